package dev.kiln.builder.exec;

import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.rootfs.DevicePlaceholder;
import dev.kiln.builder.rootfs.LayerExtractor;
import dev.kiln.builder.rootfs.RootfsPath;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * COPY/ADD of files from a source tree (the build context or another stage's rootfs) into a
 * rootfs, with Docker's rules: wildcards, a directory source copies its contents, a destination
 * ending in {@code /} (or several sources) is a directory. Which files are read is {@link CopySources}'
 * business, so nothing outside the source tree is; destinations go through {@link RootfsPath} so
 * nothing outside the rootfs is written.
 */
public final class ContextCopier {
    private final CopySources sources;
    private final RootfsPath rootfs;
    private dev.kiln.builder.sandbox.Cancellation cancellation;
    /**
     * The first copy of each multiply linked file of the source being copied, by inode: the other
     * names of that inode become hardlinks to it, so a link group stays one (BuildKit's copy does so).
     */
    private final Map<Object, Path> linkGroups = new HashMap<>();

    /** Ownership for --chown (null to keep root), mode for --chmod (null to keep). */
    public record Attributes(Long uid, Long gid, Integer mode) {
    }

    public ContextCopier(Path sourceRoot, boolean isContext, DockerIgnore ignore, RootfsPath rootfs) {
        this.sources = new CopySources(sourceRoot, isContext, ignore);
        this.rootfs = rootfs;
    }

    /** A cancelled build stops the copy at the next file instead of at the end of the step. */
    public ContextCopier cancelledBy(dev.kiln.builder.sandbox.Cancellation switchOff) {
        this.cancellation = switchOff;
        return this;
    }

    /** COPY/ADD {@code --exclude} patterns; they leave out what lies below each matched source, not the match itself. */
    public ContextCopier excluding(List<String> patterns) {
        sources.excluding(patterns);
        return this;
    }

    private void throwIfCancelled() throws java.io.InterruptedIOException {
        if (cancellation != null && cancellation.isCancelled()) {
            throw new java.io.InterruptedIOException("cancelled");
        }
    }

    /** Copies {@code sources} to {@code destination} (absolute, inside the rootfs). */
    public void copy(List<String> names, String destination, Attributes attrs, boolean unpackArchives) throws IOException, BuildException {
        List<List<Path>> matchedBySource = new ArrayList<>();
        int matchedCount = 0;
        for (String source : names) {
            List<Path> found = sources.match(source);
            if (found.isEmpty()) {
                throw new BuildException("no source files were specified or found for " + source);
            }
            matchedBySource.add(found);
            matchedCount += found.size();
        }
        boolean destIsDir = destination.endsWith("/") || names.size() > 1 || matchedCount > 1
                || Files.isDirectory(rootfs.resolve(destination));
        for (List<Path> matched : matchedBySource) {
            // BuildKit copies each source argument on its own: links are kept within one, not across
            linkGroups.clear();
            for (Path matchedPath : matched) {
                copyMatched(matchedPath, destination, destIsDir, attrs, unpackArchives);
            }
        }
    }

    private void copyMatched(Path matchedPath, String destination, boolean destIsDir, Attributes attrs, boolean unpackArchives)
            throws IOException, BuildException {
        throwIfCancelled();
        // A source that is itself a symlink is followed (inside the source tree), as BuildKit
        // does; the copy keeps the name it was asked for. Symlinks below a directory stay links.
        Path src = sources.followed(matchedPath);
        sources.walking(src);
        if (Files.isDirectory(src, LinkOption.NOFOLLOW_LINKS)) {
            Path target = mkdirs(destination, attrs);
            copyTree(src, target, attrs);
        } else if (unpackArchives && AddArchive.isArchive(src)) {
            Path target = mkdirs(destination, attrs);
            try (InputStream tar = AddArchive.decompressed(src)) {
                new LayerExtractor(target, true, w -> { }).apply(tar);
            }
        } else {
            String to = destIsDir ? join(destination, matchedPath.getFileName().toString()) : destination;
            Path target = rootfs.resolveNoFollow(to);
            mkdirs(parent(to), attrs);
            copyOne(src, target, attrs);
        }
    }

    /**
     * A digest of everything {@link #copy} would read for {@code sources}: names, types, modes, link
     * targets and content, after {@code .dockerignore}. Owners are left out because COPY does not keep them.
     */
    public String digest(List<String> names) throws IOException, BuildException {
        return sources.digest(names);
    }

    /** A source path inside {@code root}: in the context it may not lead out, in a rootfs its links resolve inside. */
    public static Path resolveSource(Path root, boolean isContext, String rel) throws IOException {
        return CopySources.resolveSource(root, isContext, rel);
    }

    private void copyTree(Path srcDir, Path targetDir, Attributes attrs) throws IOException {
        List<Path> children;
        try (Stream<Path> list = Files.list(srcDir)) {
            children = list.sorted().toList();
        }
        for (Path child : children) {
            throwIfCancelled();
            if (sources.skipped(child)) {
                continue;
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
            throw new IOException(sources.root().relativize(src) + " is a socket, which cannot be copied into an image");
        }
        if (type == 0010000 || type == 0020000 || type == 0060000) {
            // never opened: a FIFO would block the build, a device would hand over the host's
            Files.deleteIfExists(target);
            if (type == 0010000) {
                dev.kiln.builder.rootfs.Trees.mkfifo(target);
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
        Object inode = type == 0100000 ? CopySources.multiplyLinked(src) : null;
        Path first = inode == null ? null : linkGroups.get(inode);
        if (first != null && !first.equals(target) && Files.isRegularFile(first, LinkOption.NOFOLLOW_LINKS)) {
            // the first copy already has this inode's content, mode and owner
            Files.deleteIfExists(target);
            Files.createLink(target, first);
            return;
        }
        Files.copy(src, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES,
                LinkOption.NOFOLLOW_LINKS);
        if (inode != null) {
            linkGroups.putIfAbsent(inode, target);
        }
        if (!Files.isSymbolicLink(target)) {
            copyMode(src, target, attrs);
        }
        own(target, attrs, src);
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
        } else if (!sources.isContext() && src != null) {
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
    public static Attributes chown(RootfsPath rootfs, String spec, Integer mode) throws IOException {
        dev.kiln.builder.sandbox.RunUser owner = dev.kiln.builder.sandbox.RunUser.resolve(rootfs, spec);
        boolean uidAlone = !spec.contains(":") && !spec.isEmpty() && spec.chars().allMatch(Character::isDigit);
        return new Attributes(owner.uid(), uidAlone ? owner.uid() : owner.gid(), mode);
    }

    /** Creates {@code dir} (absolute inside the rootfs) and missing parents, as root with 0755. */
    public Path mkdirs(String dir, Attributes attrs) throws IOException {
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

    public static String join(String dir, String name) {
        return dir.endsWith("/") ? dir + name : dir + "/" + name;
    }

    static String parent(String path) {
        String p = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        int slash = p.lastIndexOf('/');
        return slash <= 0 ? "/" : p.substring(0, slash);
    }
}
