package dev.kiln.builder.exec;

import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.rootfs.DevicePlaceholder;
import dev.kiln.builder.rootfs.LayerExtractor;
import dev.kiln.builder.rootfs.RootfsPath;
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
    private dev.kiln.builder.sandbox.Cancellation cancellation;

    /** Ownership for --chown (null to keep root), mode for --chmod (null to keep). */
    record Attributes(Long uid, Long gid, Integer mode) {
    }

    ContextCopier(Path sourceRoot, boolean isContext, DockerIgnore ignore, RootfsPath rootfs) {
        this.sourceRoot = sourceRoot.toAbsolutePath().normalize();
        this.isContext = isContext;
        this.ignore = ignore;
        this.rootfs = rootfs;
    }

    /** A cancelled build stops the copy at the next file instead of at the end of the step. */
    ContextCopier cancelledBy(dev.kiln.builder.sandbox.Cancellation switchOff) {
        this.cancellation = switchOff;
        return this;
    }

    private void throwIfCancelled() throws java.io.InterruptedIOException {
        if (cancellation != null && cancellation.isCancelled()) {
            throw new java.io.InterruptedIOException("cancelled");
        }
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
        for (Path matchedPath : matched) {
            throwIfCancelled();
            // A source that is itself a symlink is followed (inside the source tree), as BuildKit
            // does; the copy keeps the name it was asked for. Symlinks below a directory stay links.
            Path src = followed(matchedPath);
            if (Files.isDirectory(src, LinkOption.NOFOLLOW_LINKS)) {
                Path target = mkdirs(destination, attrs);
                copyTree(src, target, attrs);
            } else if (unpackArchives && isArchive(src)) {
                Path target = mkdirs(destination, attrs);
                new LayerExtractor(target, true, w -> { }).apply(src);
            } else {
                String to = destIsDir ? join(destination, matchedPath.getFileName().toString()) : destination;
                Path target = rootfs.resolveNoFollow(to);
                mkdirs(parent(to), attrs);
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
                digestTree(digester, followed(matched), matched.getFileName() == null ? "." : matched.getFileName().toString());
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

    private Path followed(Path source) throws IOException, BuildException {
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

    /**
     * Whether ADD unpacks {@code src}: a tar, plain or compressed (gzip, zstd). As in Docker, a
     * compressed file that is not a tar inside is copied as it is.
     */
    static boolean isArchive(Path src) throws IOException {
        if (!Files.isRegularFile(src, LinkOption.NOFOLLOW_LINKS)) {
            return false; // only a regular file is ever opened: a FIFO would block
        }
        byte[] magic = new byte[4];
        int m;
        try (InputStream in = Files.newInputStream(src)) {
            m = in.readNBytes(magic, 0, magic.length);
        }
        try (InputStream raw = Files.newInputStream(src); InputStream in = decompressed(raw, magic, m)) {
            byte[] header = new byte[512];
            return in.readNBytes(header, 0, header.length) == header.length && isTarHeader(header);
        } catch (IOException corrupt) {
            return false; // compressed garbage is a file like any other
        }
    }

    private static InputStream decompressed(InputStream raw, byte[] magic, int n) throws IOException {
        if (n >= 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b) {
            return new java.util.zip.GZIPInputStream(raw);
        }
        if (n >= 4 && (magic[0] & 0xff) == 0x28 && (magic[1] & 0xff) == 0xb5 && (magic[2] & 0xff) == 0x2f
                && (magic[3] & 0xff) == 0xfd) {
            return new org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream(raw);
        }
        return raw;
    }

    /** A tar header block: its checksum (field at 148, octal) is the sum of its bytes with that field as spaces. */
    static boolean isTarHeader(byte[] block) {
        String field = new String(block, 148, 8, java.nio.charset.StandardCharsets.US_ASCII).replace('\0', ' ').trim();
        if (field.isEmpty() || !field.chars().allMatch(ch -> ch >= '0' && ch <= '7')) {
            return false;
        }
        long sum = 0;
        for (int i = 0; i < block.length; i++) {
            sum += i >= 148 && i < 156 ? ' ' : block[i] & 0xff;
        }
        return sum == Long.parseLong(field, 8);
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
            throwIfCancelled();
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
                own(target, attrs, child);
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
        int type = (Integer) Files.getAttribute(src, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000;
        if (type == 0140000) {
            throw new IOException(sourceRoot.relativize(src) + " is a socket, which cannot be copied into an image");
        }
        if (type == 0010000 || type == 0020000 || type == 0060000) {
            // never opened: a FIFO would block the build, a device would hand over the host's
            Files.deleteIfExists(target);
            if (type == 0010000) {
                mkfifo(target);
            } else {
                long rdev = (Long) Files.getAttribute(src, "unix:rdev", LinkOption.NOFOLLOW_LINKS);
                int major = (int) (((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL));
                int minor = (int) ((rdev & 0xff) | ((rdev >>> 12) & ~0xffL));
                DevicePlaceholder.create(target, new DevicePlaceholder.Device(type == 0020000 ? 'c' : 'b', major, minor));
            }
            copyMode(src, target, attrs);
            own(target, attrs, src);
            return;
        }
        Files.copy(src, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES,
                LinkOption.NOFOLLOW_LINKS);
        if (!Files.isSymbolicLink(target)) {
            copyMode(src, target, attrs);
        }
        own(target, attrs, src);
    }

    private static void mkfifo(Path target) throws IOException {
        Process p = new ProcessBuilder("mkfifo", "--", target.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        try {
            if (p.waitFor() != 0) {
                throw new IOException("mkfifo " + target + " failed: " + out.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while making a FIFO");
        }
    }

    private static void copyMode(Path src, Path target, Attributes attrs) throws IOException {
        if (attrs != null && attrs.mode() != null) {
            Files.setAttribute(target, "unix:mode", attrs.mode());
        } else {
            Files.setAttribute(target, "unix:mode", (Integer) Files.getAttribute(src, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777);
        }
    }

    /**
     * --chown's owner, else (as BuildKit does) the source's owner when copying from a stage or an
     * image, else root: the build context's owners are the client machine's, meaningless in an image.
     */
    private void own(Path target, Attributes attrs, Path src) throws IOException {
        long uid = 0;
        long gid = 0;
        if (attrs != null && attrs.uid() != null) {
            uid = attrs.uid();
            gid = attrs.gid() == null ? 0 : attrs.gid();
        } else if (!isContext && src != null) {
            uid = Integer.toUnsignedLong((Integer) Files.getAttribute(src, "unix:uid", LinkOption.NOFOLLOW_LINKS));
            gid = Integer.toUnsignedLong((Integer) Files.getAttribute(src, "unix:gid", LinkOption.NOFOLLOW_LINKS));
        }
        Files.setAttribute(target, "unix:uid", (int) uid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(target, "unix:gid", (int) gid, LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * The owner {@code --chown=<user>[:<group>]} gives, as BuildKit reads it: names from the
     * rootfs's /etc/passwd and /etc/group; a user name alone brings its primary group, a uid
     * alone is also the gid (unlike USER, which takes the gid from /etc/passwd).
     */
    static Attributes chown(RootfsPath rootfs, String spec, Integer mode) throws IOException {
        dev.kiln.builder.sandbox.RunUser owner = dev.kiln.builder.sandbox.RunUser.resolve(rootfs, spec);
        boolean uidAlone = !spec.contains(":") && !spec.isEmpty() && spec.chars().allMatch(Character::isDigit);
        return new Attributes(owner.uid(), uidAlone ? owner.uid() : owner.gid(), mode);
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
                        own(p, attrs, null);
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
