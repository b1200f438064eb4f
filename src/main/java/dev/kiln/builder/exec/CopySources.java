package dev.kiln.builder.exec;

import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.rootfs.RootfsPath;
import dev.kiln.oci.Digester;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Which files a COPY/ADD reads from its source tree (the build context or another stage's
 * rootfs), and a digest of them for the cache key: a source names one path or a wildcard
 * pattern, {@code .dockerignore} leaves paths of the context out, {@code --exclude} leaves out
 * what lies below each matched source, and nothing outside the source tree is ever read.
 */
final class CopySources {
    private final Path sourceRoot;
    private final boolean isContext;
    private final DockerIgnore ignore;
    /** {@code --exclude}: .dockerignore patterns matched against paths relative to {@link #matchRoot}. */
    private DockerIgnore excludes;
    private Path matchRoot;

    CopySources(Path sourceRoot, boolean isContext, DockerIgnore ignore) {
        this.sourceRoot = sourceRoot.toAbsolutePath().normalize();
        this.isContext = isContext;
        this.ignore = ignore;
    }

    void excluding(List<String> patterns) {
        this.excludes = patterns.isEmpty() ? null : DockerIgnore.of(patterns);
    }

    boolean isContext() {
        return isContext;
    }

    Path root() {
        return sourceRoot;
    }

    /** The matched source being walked now: {@code --exclude} patterns are relative to it. */
    void walking(Path matched) {
        this.matchRoot = matched;
    }

    /** The paths {@code source} names, sorted; empty when nothing matches. */
    List<Path> match(String source) throws IOException, BuildException {
        String clean = source.replace('\\', '/');
        while (clean.startsWith("/")) {
            clean = clean.substring(1);
        }
        Path rel = Path.of(clean.isEmpty() ? "." : clean).normalize();
        if (rel.startsWith("..")) {
            throw new BuildException("forbidden path outside the build context: " + source);
        }
        if (!hasWildcard(clean)) {
            Path p = resolveSource(sourceRoot, isContext, rel.toString());
            if (p == null || !Files.exists(p, LinkOption.NOFOLLOW_LINKS) || ignored(p)) {
                return List.of();
            }
            return List.of(p);
        }
        PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + rel);
        List<Path> out = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(sourceRoot)) {
            walk.filter(p -> !p.equals(sourceRoot))
                    .filter(p -> matcher.matches(sourceRoot.relativize(p)))
                    .filter(p -> !ignored(p))
                    .sorted()
                    .forEach(out::add);
        }
        return out;
    }

    /**
     * A matched source that is itself a symlink is followed (inside the source tree), as BuildKit
     * does; symlinks below a directory stay links.
     */
    Path followed(Path source) throws IOException, BuildException {
        if (!Files.isSymbolicLink(source)) {
            return source;
        }
        Path target = RootfsPath.of(sourceRoot).resolve("/" + sourceRoot.relativize(source));
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new BuildException("source " + sourceRoot.relativize(source) + " is a symlink to "
                    + Files.readSymbolicLink(source) + ", which does not exist");
        }
        return target;
    }

    /** A source path inside {@code root}: in the context it may not lead out, in a rootfs its links resolve inside. */
    static Path resolveSource(Path root, boolean isContext, String rel) throws IOException {
        if (isContext) {
            Path p = root.resolve(rel).normalize();
            Path real = Files.exists(p) ? p.toRealPath() : p;
            if (!real.startsWith(root.toRealPath())) {
                throw new IOException("forbidden path outside the build context: " + rel);
            }
            return p;
        }
        return RootfsPath.of(root).resolve("/" + rel);
    }

    /** The children of a directory being copied to skip: excluded, and with nothing re-included below. */
    boolean skipped(Path p) {
        return excluded(p) && !mustWalk(p);
    }

    private boolean excluded(Path p) {
        return ignored(p) || excludedByFlag(p);
    }

    /** An excluded directory is still walked when a later {@code !} pattern may re-include something below it. */
    private boolean mustWalk(Path dir) {
        return Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
                && (!ignored(dir) || ignore.mustWalk(sourceRoot.relativize(dir).toString()))
                && (!excludedByFlag(dir) || excludes.mustWalk(matchRoot.relativize(dir).toString()));
    }

    private boolean ignored(Path p) {
        if (!isContext || ignore == null) {
            return false;
        }
        String rel = sourceRoot.relativize(p).toString();
        return !rel.isEmpty() && ignore.excluded(rel, Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS));
    }

    private boolean excludedByFlag(Path p) {
        return excludes != null && matchRoot != null && p.startsWith(matchRoot) && !p.equals(matchRoot)
                && excludes.excluded(matchRoot.relativize(p).toString(), Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS));
    }

    private static boolean hasWildcard(String s) {
        return s.indexOf('*') >= 0 || s.indexOf('?') >= 0 || s.indexOf('[') >= 0;
    }

    /**
     * A digest of everything a copy would read for {@code sources}: names, types, modes, link
     * targets and content, after {@code .dockerignore}. Owners are left out because COPY does not keep them.
     */
    String digest(List<String> sources) throws IOException, BuildException {
        Digester digester = Digester.sha256();
        for (String source : sources) {
            Map<Object, String> firstNames = new HashMap<>();
            text(digester, "source", source);
            for (Path matched : match(source)) {
                walking(followed(matched));
                digestTree(digester, followed(matched), matched.getFileName() == null ? "." : matched.getFileName().toString(),
                        firstNames);
            }
        }
        return digester.digest().hex();
    }

    private void digestTree(Digester digester, Path path, String name, Map<Object, String> firstNames) throws IOException {
        int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        text(digester, "entry", name + " " + Integer.toOctalString(mode));
        if (Files.isSymbolicLink(path)) {
            text(digester, "link", Files.readSymbolicLink(path).toString());
        } else if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            List<Path> children;
            try (Stream<Path> list = Files.list(path)) {
                children = list.sorted().toList();
            }
            for (Path child : children) {
                if (skipped(child)) {
                    continue;
                }
                digestTree(digester, child, name + "/" + child.getFileName(), firstNames);
            }
        } else if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
            Object inode = multiplyLinked(path);
            if (inode != null) {
                // which names share an inode changes the layer (hardlink entries), so the key too
                text(digester, "link-group", firstNames.computeIfAbsent(inode, k -> name));
            }
            try (InputStream in = Files.newInputStream(path)) {
                text(digester, "content", Digester.digest(in, "sha256").hex());
            }
        }
    }

    private static void text(Digester digester, String label, String value) {
        byte[] bytes = (label + "\0" + value.length() + "\0" + value + "\0").getBytes(StandardCharsets.UTF_8);
        digester.update(bytes);
    }

    /** The inode of a regular file that has other names too, else null. */
    static Object multiplyLinked(Path file) throws IOException {
        if (((Number) Files.getAttribute(file, "unix:nlink", LinkOption.NOFOLLOW_LINKS)).longValue() < 2) {
            return null;
        }
        return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
    }
}
