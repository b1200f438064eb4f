package dev.kiln.builder.steps;

import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.ContextCopier;
import dev.kiln.builder.rootfs.RootfsPath;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * What {@code COPY --parents} copies, as BuildKit reads it: a source {@code a/b/./c/d} is split at
 * its first {@code /./} into a pivot ({@code a/b}, which may hold wildcards) and a pattern
 * ({@code c/d}, .dockerignore syntax, so {@code **} too); without a pivot, the source root is the
 * pivot. Each topmost path under a pivot that the pattern matches is copied to the destination
 * under its path relative to the pivot, its parent directories made with the source's modes.
 */
final class ParentsSources {

    /**
     * One path to copy.
     *
     * @param source   relative to the source root, as {@code ContextCopier} takes it
     * @param relative relative to its pivot: where it lands under the destination
     * @param pivot    the pivot directory on the host, to read the parents' modes from
     */
    record Match(String source, String relative, Path pivot) {
    }

    private final Path root;
    private final boolean isContext;
    private final DockerIgnore ignore;

    ParentsSources(Path root, boolean isContext, DockerIgnore ignore) {
        this.root = root.toAbsolutePath().normalize();
        this.isContext = isContext;
        this.ignore = isContext ? ignore : null;
    }

    /** The matches of one (expanded) source, in path order; a source without wildcards must match something. */
    List<Match> resolve(String source) throws IOException, BuildException {
        String clean = source.replace('\\', '/');
        int cut = clean.indexOf("/./");
        String pivot = cut < 0 ? "" : relative(clean.substring(0, cut));
        String pattern = relative(cut < 0 ? clean : clean.substring(cut + 3));
        if (pivot.startsWith("..") || pattern.startsWith("..")) {
            throw new BuildException("forbidden path outside the build context: " + source);
        }
        List<Match> out = new ArrayList<>();
        for (String p : pivots(pivot)) {
            Path dir = p.isEmpty() ? root : ContextCopier.resolveSource(root, isContext, p);
            if (!Files.isDirectory(dir)) {
                continue;
            }
            if (pattern.isEmpty() || pattern.equals(".")) {
                out.add(new Match(p.isEmpty() ? "." : p, "", dir));
                continue;
            }
            DockerIgnore include = DockerIgnore.of(List.of(pattern));
            walk(dir, dir, p, include, out);
        }
        if (out.isEmpty() && !hasWildcard(clean)) {
            throw new BuildException("no source files were specified or found for " + source);
        }
        return out;
    }

    /**
     * Copies one match to {@code destination/relative}: parent directories that are missing are made
     * with the mode of the source's own (so is the match itself when it is a directory), unless --chmod,
     * and from a stage or image with their owners too, unless --chown (as BuildKit's copy does).
     */
    void copy(ContextCopier copier, RootfsPath rootfs, Match m, String destination, ContextCopier.Attributes attrs,
              boolean unpack) throws IOException, BuildException {
        String target = m.relative().isEmpty() ? destination : ContextCopier.join(destination, m.relative());
        List<String> made = new ArrayList<>();
        String[] parts = m.relative().isEmpty() ? new String[0] : m.relative().split("/");
        for (int i = 1; i <= parts.length; i++) {
            String rel = String.join("/", java.util.Arrays.copyOf(parts, i));
            String dir = ContextCopier.join(destination, rel);
            if (Files.notExists(rootfs.resolveNoFollow(dir), LinkOption.NOFOLLOW_LINKS)
                    && (i < parts.length || Files.isDirectory(m.pivot().resolve(rel), LinkOption.NOFOLLOW_LINKS))) {
                made.add(rel);
            }
        }
        for (String rel : made.subList(0, Math.max(0, made.size() - (made.contains(m.relative()) ? 1 : 0)))) {
            copier.mkdirs(ContextCopier.join(destination, rel), attrs);
        }
        copier.copy(List.of(m.source()), target, attrs, unpack);
        for (String rel : made) {
            Path source = m.pivot().resolve(rel);
            Path dir = rootfs.resolve(ContextCopier.join(destination, rel));
            if (attrs.mode() == null) {
                Files.setAttribute(dir, "unix:mode", (Integer) Files.getAttribute(source, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777);
            }
            if (!isContext && attrs.uid() == null) {
                Files.setAttribute(dir, "unix:uid", Files.getAttribute(source, "unix:uid", LinkOption.NOFOLLOW_LINKS));
                Files.setAttribute(dir, "unix:gid", Files.getAttribute(source, "unix:gid", LinkOption.NOFOLLOW_LINKS));
            }
        }
    }

    private void walk(Path pivotDir, Path dir, String pivot, DockerIgnore include, List<Match> out) throws IOException {
        List<Path> children;
        try (Stream<Path> list = Files.list(dir)) {
            children = list.sorted().toList();
        }
        for (Path child : children) {
            String rel = pivotDir.relativize(child).toString();
            String source = pivot.isEmpty() ? rel : pivot + "/" + rel;
            boolean isDir = Files.isDirectory(child, LinkOption.NOFOLLOW_LINKS);
            if (ignore != null && ignore.excluded(root.relativize(child).toString(), isDir)
                    && !(isDir && ignore.mustWalk(root.relativize(child).toString()))) {
                continue;
            }
            if (include.excluded(rel, isDir)) {
                out.add(new Match(source, rel, pivotDir));
            } else if (isDir) {
                walk(pivotDir, child, pivot, include, out);
            }
        }
    }

    /** The pivot's matches relative to the root: itself, or what its wildcards match, directories only. */
    private List<String> pivots(String pivot) throws IOException {
        if (!hasWildcard(pivot)) {
            return List.of(pivot);
        }
        PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + pivot);
        int depth = pivot.split("/").length;
        try (Stream<Path> walk = Files.walk(root, depth)) {
            return walk.filter(p -> !p.equals(root))
                    .filter(p -> matcher.matches(root.relativize(p)))
                    .filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))
                    .filter(p -> ignore == null || !ignore.excluded(root.relativize(p).toString(), true))
                    .map(p -> root.relativize(p).toString())
                    .sorted()
                    .toList();
        }
    }

    /** {@code /x/./y/} and {@code ./x/y} both become {@code x/y}; the root is the empty string. */
    static String relative(String path) {
        String normal = Path.of("/" + path).normalize().toString();
        return normal.equals("/") ? "" : normal.substring(1);
    }

    private static boolean hasWildcard(String s) {
        return s.indexOf('*') >= 0 || s.indexOf('?') >= 0 || s.indexOf('[') >= 0;
    }
}
