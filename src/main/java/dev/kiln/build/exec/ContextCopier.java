package dev.kiln.build.exec;

import dev.kiln.build.dockerfile.DockerIgnore;
import dev.kiln.build.rootfs.LayerExtractor;
import dev.kiln.build.rootfs.RootfsPath;
import dev.kiln.oci.Digester;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.stream.Stream;

/**
 * COPY/ADD of files from a source tree (the build context or another stage's rootfs) into a
 * rootfs, with Docker's rules: wildcards, a directory source copies its contents, a destination
 * ending in {@code /} (or several sources) is a directory. Sources are resolved so nothing outside
 * the source tree is read; destinations through {@link RootfsPath} so nothing outside the rootfs is written.
 */
final class ContextCopier {
    private final Path sourceRoot;
    private final boolean isContext;
    private final DockerIgnore ignore;
    private final RootfsPath rootfs;

    /** Ownership for --chown (null to keep root), mode for --chmod (null to keep). */
    record Attributes(Long uid, Long gid, Integer mode) {
    }

    ContextCopier(Path sourceRoot, boolean isContext, DockerIgnore ignore, RootfsPath rootfs) {
        this.sourceRoot = sourceRoot.toAbsolutePath().normalize();
        this.isContext = isContext;
        this.ignore = ignore;
        this.rootfs = rootfs;
    }

    /** Copies {@code sources} to {@code destination} (absolute, inside the rootfs). */
    void copy(List<String> sources, String destination, Attributes attrs, boolean unpackArchives) throws IOException, BuildException {
        List<Path> matched = new ArrayList<>();
        for (String source : sources) {
            List<Path> found = match(source);
            if (found.isEmpty()) {
                throw new BuildException("no source files were specified or found for " + source);
            }
            matched.addAll(found);
        }
        boolean destIsDir = destination.endsWith("/") || sources.size() > 1 || matched.size() > 1
                || Files.isDirectory(rootfs.resolve(destination));
        for (Path src : matched) {
            if (Files.isDirectory(src, LinkOption.NOFOLLOW_LINKS)) {
                Path target = mkdirs(destination, attrs);
                copyTree(src, target, attrs);
            } else if (unpackArchives && isArchive(src)) {
                Path target = mkdirs(destination, attrs);
                new LayerExtractor(target, true, w -> { }).apply(src);
            } else {
                String to = destIsDir ? join(destination, src.getFileName().toString()) : destination;
                Path target = rootfs.resolveNoFollow(to);
                mkdirs(parent(to), null);
                copyOne(src, target, attrs);
            }
        }
    }

    /**
     * A digest of everything {@link #copy} would read for {@code sources}: names, types, modes, link
     * targets and content, after {@code .dockerignore}. Owners are left out because COPY does not keep them.
     */
    String digest(List<String> sources) throws IOException, BuildException {
        Digester digester = Digester.sha256();
        for (String source : sources) {
            text(digester, "source", source);
            for (Path matched : match(source)) {
                digestTree(digester, matched, matched.getFileName() == null ? "." : matched.getFileName().toString());
            }
        }
        return digester.digest().hex();
    }

    private void digestTree(Digester digester, Path path, String name) throws IOException {
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
                if (excluded(child) && !(Files.isDirectory(child, LinkOption.NOFOLLOW_LINKS)
                        && ignore.mustWalk(sourceRoot.relativize(child).toString()))) {
                    continue;
                }
                digestTree(digester, child, name + "/" + child.getFileName());
            }
        } else if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
            try (InputStream in = Files.newInputStream(path)) {
                text(digester, "content", Digester.digest(in, "sha256").hex());
            }
        }
    }

    private static void text(Digester digester, String label, String value) {
        byte[] bytes = (label + "\0" + value.length() + "\0" + value + "\0").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        digester.update(bytes);
    }

    private static boolean isArchive(Path src) throws IOException {
        byte[] head = new byte[512];
        int n;
        try (InputStream in = Files.newInputStream(src)) {
            n = in.readNBytes(head, 0, head.length);
        }
        if (n >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) {
            return true;
        }
        if (n >= 4 && (head[0] & 0xff) == 0x28 && (head[1] & 0xff) == 0xb5 && (head[2] & 0xff) == 0x2f && (head[3] & 0xff) == 0xfd) {
            return true;
        }
        return n >= 262 && new String(head, 257, 5, java.nio.charset.StandardCharsets.US_ASCII).equals("ustar");
    }

    private List<Path> match(String source) throws IOException, BuildException {
        String clean = source.replace('\\', '/');
        while (clean.startsWith("/")) {
            clean = clean.substring(1);
        }
        Path rel = Path.of(clean.isEmpty() ? "." : clean).normalize();
        if (rel.startsWith("..")) {
            throw new BuildException("forbidden path outside the build context: " + source);
        }
        if (!hasWildcard(clean)) {
            Path p = resolveSource(rel.toString());
            if (p == null || !Files.exists(p, LinkOption.NOFOLLOW_LINKS) || excluded(p)) {
                return List.of();
            }
            return List.of(p);
        }
        PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + rel);
        List<Path> out = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(sourceRoot)) {
            walk.filter(p -> !p.equals(sourceRoot))
                    .filter(p -> matcher.matches(sourceRoot.relativize(p)))
                    .filter(p -> !excluded(p))
                    .sorted()
                    .forEach(out::add);
        }
        return out;
    }

    private Path resolveSource(String rel) throws IOException {
        if (isContext) {
            Path p = sourceRoot.resolve(rel).normalize();
            Path real = Files.exists(p) ? p.toRealPath() : p;
            if (!real.startsWith(sourceRoot.toRealPath())) {
                throw new IOException("forbidden path outside the build context: " + rel);
            }
            return p;
        }
        return RootfsPath.of(sourceRoot).resolve("/" + rel);
    }

    private boolean excluded(Path p) {
        if (!isContext || ignore == null) {
            return false;
        }
        String rel = sourceRoot.relativize(p).toString();
        return !rel.isEmpty() && ignore.excluded(rel, Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS));
    }

    private static boolean hasWildcard(String s) {
        return s.indexOf('*') >= 0 || s.indexOf('?') >= 0 || s.indexOf('[') >= 0;
    }

    private void copyTree(Path srcDir, Path targetDir, Attributes attrs) throws IOException {
        List<Path> children;
        try (Stream<Path> list = Files.list(srcDir)) {
            children = list.sorted().toList();
        }
        for (Path child : children) {
            if (excluded(child)) {
                if (Files.isDirectory(child, LinkOption.NOFOLLOW_LINKS) && ignore.mustWalk(sourceRoot.relativize(child).toString())) {
                    // an exception pattern may re-include something below
                } else {
                    continue;
                }
            }
            String inside = rootfs.inside(targetDir);
            Path target = rootfs.resolveNoFollow(join(inside, child.getFileName().toString()));
            if (Files.isDirectory(child, LinkOption.NOFOLLOW_LINKS)) {
                if (!Files.isDirectory(target)) {
                    Files.deleteIfExists(target);
                    Files.createDirectory(target);
                    copyMode(child, target, attrs);
                }
                own(target, attrs);
                copyTree(child, target, attrs);
            } else {
                copyOne(child, target, attrs);
            }
        }
    }

    private void copyOne(Path src, Path target, Attributes attrs) throws IOException {
        if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("cannot replace directory " + rootfs.inside(target) + " with a file");
        }
        Files.copy(src, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES,
                LinkOption.NOFOLLOW_LINKS);
        if (!Files.isSymbolicLink(target)) {
            copyMode(src, target, attrs);
        }
        own(target, attrs);
    }

    private static void copyMode(Path src, Path target, Attributes attrs) throws IOException {
        if (attrs != null && attrs.mode() != null) {
            Files.setAttribute(target, "unix:mode", attrs.mode());
        } else {
            Files.setAttribute(target, "unix:mode", (Integer) Files.getAttribute(src, "unix:mode") & 07777);
        }
    }

    private static void own(Path target, Attributes attrs) throws IOException {
        long uid = attrs == null || attrs.uid() == null ? 0 : attrs.uid();
        long gid = attrs == null || attrs.gid() == null ? 0 : attrs.gid();
        Files.setAttribute(target, "unix:uid", (int) uid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(target, "unix:gid", (int) gid, LinkOption.NOFOLLOW_LINKS);
    }

    /** Creates {@code dir} (absolute inside the rootfs) and missing parents, as root with 0755. */
    Path mkdirs(String dir, Attributes attrs) throws IOException {
        Path target = rootfs.resolve(dir);
        if (!Files.isDirectory(target)) {
            Path p = rootfs.root();
            for (String part : dir.split("/")) {
                if (part.isEmpty()) {
                    continue;
                }
                p = rootfs.resolve(rootfs.inside(p) + "/" + part);
                if (!Files.isDirectory(p)) {
                    Files.createDirectory(p);
                    Files.setPosixFilePermissions(p, EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
                            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_EXECUTE,
                            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_EXECUTE));
                    if (attrs != null) {
                        own(p, attrs);
                    }
                }
            }
        }
        return target;
    }

    static String join(String dir, String name) {
        return dir.endsWith("/") ? dir + name : dir + "/" + name;
    }

    static String parent(String path) {
        String p = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        int slash = p.lastIndexOf('/');
        return slash <= 0 ? "/" : p.substring(0, slash);
    }
}
