package dev.kiln.builder.context;

import dev.kiln.builder.rootfs.RootfsPath;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Reads kaniko's {@code --context} spellings: a plain path or {@code dir://PATH} (a directory, or a
 * tar file), {@code tar://FILE} and {@code tar://stdin}, {@code https://…} (and {@code http://} with
 * {@code --insecure}), {@code git://…} and {@code git+SCHEME://…} ({@link GitContext}), {@code s3://BUCKET/KEY}.
 */
public final class ContextSources {

    /** What the spellings need besides the spec itself. */
    public record Settings(Downloads downloads, GitOptions git, Map<String, String> env, InputStream stdin,
                           Consumer<String> warnings, Consumer<String> debug) {
        public Settings {
            env = Map.copyOf(env);
        }

        /** For a local context: no downloads, no stdin, warnings and debug lines dropped. */
        public static Settings local() {
            return new Settings(Downloads.of(false, false), GitOptions.DEFAULT, Map.of(), InputStream.nullInputStream(),
                    w -> { }, d -> { });
        }
    }

    private ContextSources() {
    }

    public static ContextSource parse(String spec, Settings settings) throws ContextException {
        if (spec == null || spec.isBlank()) {
            throw new ContextException("no build context given");
        }
        if (spec.startsWith("dir://")) {
            return new DirectoryContext(Path.of(spec.substring("dir://".length())).toAbsolutePath().normalize());
        }
        if (spec.equals("tar://stdin")) {
            return TarContext.stdin(settings.stdin(), settings.warnings());
        }
        if (spec.startsWith("tar://")) {
            return TarContext.file(Path.of(spec.substring("tar://".length())).toAbsolutePath().normalize(), settings.warnings());
        }
        if (spec.startsWith("https://") || spec.startsWith("http://")) {
            URI url;
            try {
                url = URI.create(spec);
            } catch (IllegalArgumentException e) {
                throw new ContextException("build context " + spec + " is not a valid URL: " + e.getMessage());
            }
            return new HttpContext(url, settings.downloads(), settings.warnings(), settings.debug());
        }
        if (spec.startsWith("git://") || spec.startsWith("git+")) {
            return GitContext.parse(spec, settings.git(), settings.env(), settings.debug());
        }
        if (spec.startsWith("s3://")) {
            return S3Context.parse(spec, settings.env(), settings.warnings(), settings.debug());
        }
        if (spec.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*")) {
            throw new ContextException("unsupported build context " + spec
                    + " (a directory, dir://, tar://, https://, git://, git+SCHEME://, s3://)");
        }
        return local(Path.of(spec).toAbsolutePath().normalize(), settings.warnings());
    }

    /** A path on this machine: a directory is the context, a file is unpacked as a tar. */
    public static ContextSource local(Path path, Consumer<String> warnings) {
        return Files.isRegularFile(path) ? TarContext.file(path, warnings) : new DirectoryContext(path);
    }

    /**
     * kaniko's {@code --context-sub-path}: a directory inside the materialized context, which it may
     * not leave (symlinks on the way are resolved inside the context).
     */
    public static Path subPath(Path context, String subPath) throws IOException {
        if (subPath == null || subPath.isEmpty()) {
            return context;
        }
        Path dir;
        try {
            if (Path.of(subPath).isAbsolute() || Path.of(subPath).normalize().startsWith("..")) {
                throw new IllegalArgumentException("outside");
            }
            dir = RootfsPath.of(context).resolve(subPath);
        } catch (IOException | RuntimeException e) {
            throw new ContextException("--context-sub-path " + subPath + " leaves the build context");
        }
        if (!Files.isDirectory(dir)) {
            throw new ContextException("--context-sub-path " + subPath + " is not a directory in the build context");
        }
        return dir;
    }
}
