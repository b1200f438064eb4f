package dev.kiln.builder.context;

import dev.kiln.builder.rootfs.LayerExtractionException;
import dev.kiln.builder.rootfs.LayerExtractor;
import dev.kiln.builder.rootfs.Trees;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * {@code tar://FILE} (plain, gzip or zstd tar) or {@code tar://stdin}: unpacked into the work
 * directory with {@link LayerExtractor}, so {@code ../} names are refused and symlinks met on the
 * way stay inside the context.
 */
final class TarContext implements ContextSource {
    /** Opens the tar stream; stdin is not ours to close. */
    interface Opener {
        InputStream open() throws IOException;
    }

    private final String description;
    private final Opener opener;
    private final Consumer<String> warnings;

    private TarContext(String description, Opener opener, Consumer<String> warnings) {
        this.description = description;
        this.opener = opener;
        this.warnings = warnings;
    }

    static TarContext file(Path tar, Consumer<String> warnings) {
        return new TarContext("tar://" + tar, () -> {
            try {
                return Files.newInputStream(tar);
            } catch (NoSuchFileException e) {
                throw new ContextException("build context " + tar + " does not exist");
            }
        }, warnings);
    }

    static TarContext stdin(InputStream stdin, Consumer<String> warnings) {
        return new TarContext("tar://stdin", () -> new FilterInputStream(stdin) {
            @Override
            public void close() {
                // the caller's standard input stays open
            }
        }, warnings);
    }

    /** Unpacks {@code tar} into {@code dir}; shared by the contexts that download a tar first. */
    static Path unpack(String description, InputStream tar, Path dir, Consumer<String> warnings) throws IOException {
        Files.createDirectories(dir);
        try {
            new LayerExtractor(dir, Trees.runningAsRoot(), warnings).apply(tar);
        } catch (LayerExtractionException e) {
            throw new ContextException("build context " + description + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new ContextException("build context " + description + " is not a readable tar archive: "
                    + (e.getMessage() == null ? e.toString() : e.getMessage()), e);
        }
        return dir;
    }

    @Override
    public Path materialize(Path workDir) throws IOException {
        return unpack(description, opener.open(), workDir.resolve("context"), warnings);
    }

    @Override
    public String description() {
        return description;
    }
}
