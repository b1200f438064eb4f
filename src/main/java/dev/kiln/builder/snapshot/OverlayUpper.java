package dev.kiln.builder.snapshot;

import dev.kiln.builder.rootfs.Trees;
import dev.kiln.oci.layer.LayerPaths;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads and applies what overlayfs (mounted with {@code userxattr}) left in an upper directory:
 * every entry there is new or changed (a copy-up takes the whole file); a {@code 0:0} character
 * device is a whiteout, the deletion of what the lower directory had there; a directory with
 * {@code user.overlay.opaque=y} replaced the lower one (and everything in it) wholesale.
 * Overlayfs's own {@code user.overlay.*} attributes are bookkeeping, never image content.
 */
final class OverlayUpper {
    /** overlayfs's attributes, as {@link UserDefinedFileAttributeView} names them (without {@code user.}). */
    private static final String OVERLAY_XATTRS = "overlay.";
    private static final String OPAQUE = "overlay.opaque";
    private static final String XATTR_WHITEOUT = "overlay.whiteout";

    private OverlayUpper() {
    }

    /**
     * What an upper directory holds, as rootfs-relative paths.
     *
     * @param present    new or changed entries (directories a change was made in included)
     * @param whiteouts  deleted paths
     * @param opaqueDirs directories that replaced the lower one and all it held
     * @param linked     regular files with other names (hardlinks) in the upper directory
     */
    record Contents(List<String> present, List<String> whiteouts, List<String> opaqueDirs, List<String> linked) {
        boolean isEmpty() {
            return present.isEmpty() && whiteouts.isEmpty();
        }

        /** Directories that lost lower entries: the opaque ones and the parents of whiteouts. */
        Set<String> emptiedDirs() {
            Set<String> dirs = new HashSet<>(opaqueDirs);
            for (String w : whiteouts) {
                dirs.add(LayerPaths.parent(w));
            }
            return dirs;
        }
    }

    static Contents read(Path upper) throws IOException {
        Contents contents = new Contents(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        read(upper, "", contents);
        return contents;
    }

    private static void read(Path dir, String rel, Contents into) throws IOException {
        for (Path child : children(dir)) {
            String childRel = LayerPaths.child(rel, child.getFileName().toString());
            Kind kind = kind(child);
            switch (kind) {
                case WHITEOUT -> into.whiteouts().add(childRel);
                case OPAQUE_DIR, DIR -> {
                    into.present().add(childRel);
                    if (kind == Kind.OPAQUE_DIR) {
                        into.opaqueDirs().add(childRel);
                    }
                    read(child, childRel, into);
                }
                case FILE, OTHER -> {
                    into.present().add(childRel);
                    if (kind == Kind.FILE && (Integer) Files.getAttribute(child, "unix:nlink", LinkOption.NOFOLLOW_LINKS) > 1) {
                        into.linked().add(childRel);
                    }
                }
            }
        }
    }

    /**
     * Makes {@code rootfs} what the overlay showed: deletes what was whited out or replaced,
     * moves new and changed entries in (a rename: content is never copied, and files hardlinked to
     * each other in the upper directory stay so), and gives directories both sides had the upper
     * one's metadata. The upper directory must be on the rootfs's filesystem; what is left of it
     * afterwards is only directories and whiteouts.
     */
    static void applyTo(Path upper, Path rootfs) throws IOException {
        mergeDirectory(upper, rootfs, new HashMap<>());
    }

    private static void mergeDirectory(Path upperDir, Path lowerDir, Map<Object, Path> copiedLinks) throws IOException {
        for (Path u : children(upperDir)) {
            Path l = lowerDir.resolve(u.getFileName().toString());
            Kind kind = kind(u);
            if (kind == Kind.WHITEOUT) {
                Trees.deleteTree(l);
            } else if (kind == Kind.DIR && Files.isDirectory(l, LinkOption.NOFOLLOW_LINKS)) {
                mergeDirectory(u, l, copiedLinks);
            } else {
                Trees.deleteTree(l);
                try {
                    Files.move(u, l, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    // a rootfs that is itself an overlay mount of kept layers: another filesystem
                    copyAcross(u, l, copiedLinks);
                    Trees.deleteTree(u);
                }
                if (kind == Kind.FILE) {
                    stripOverlayXattrs(l);
                } else if (kind != Kind.OTHER) {
                    cleanMovedTree(l);
                }
            }
        }
        copyDirectoryMetadata(upperDir, lowerDir);
    }

    /**
     * What a rename would do, by copying: contents, mode, owner, mtime, user xattrs (overlayfs's are
     * stripped afterwards, as after a rename), hardlinks within the upper directory kept, whiteouts
     * inside a new directory dropped (they mean nothing there).
     */
    private static void copyAcross(Path from, Path to, Map<Object, Path> copiedLinks) throws IOException {
        Map<String, Object> a = Files.readAttributes(from, "unix:mode,nlink,fileKey", LinkOption.NOFOLLOW_LINKS);
        int type = (Integer) a.get("mode") & 0170000;
        if (type == 0040000) {
            Files.createDirectory(to);
            for (Path child : children(from)) {
                if (kind(child) != Kind.WHITEOUT) {
                    copyAcross(child, to.resolve(child.getFileName().toString()), copiedLinks);
                }
            }
            copyDirectoryMetadata(from, to);
            return;
        }
        if (type == 0100000) {
            // looked up whatever nlink says now: a name copied before was deleted from the upper dir since
            Path first = copiedLinks.get(a.get("fileKey"));
            if (first != null) {
                Files.createLink(to, first);
                return;
            }
            if ((Integer) a.get("nlink") > 1) {
                copiedLinks.put(a.get("fileKey"), to);
            }
        }
        if (type == 0010000) {
            Trees.copyFifo(from, to); // Files.copy would open it and wait for a writer forever
            return;
        }
        Files.copy(from, to, LinkOption.NOFOLLOW_LINKS, StandardCopyOption.COPY_ATTRIBUTES);
        if (type == 0120000) {
            // copying a symlink keeps its owner but not its mtime
            Files.getFileAttributeView(to, java.nio.file.attribute.BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                    .setTimes(Files.getLastModifiedTime(from, LinkOption.NOFOLLOW_LINKS), null, null);
        }
    }

    /** A directory moved in whole: no overlayfs attribute may stay, and a stray whiteout means nothing. */
    private static void cleanMovedTree(Path dir) throws IOException {
        stripOverlayXattrs(dir);
        for (Path child : children(dir)) {
            Kind kind = kind(child);
            if (kind == Kind.WHITEOUT) {
                Files.delete(child);
            } else if (kind == Kind.FILE) {
                stripOverlayXattrs(child);
            } else if (kind != Kind.OTHER) {
                cleanMovedTree(child);
            }
        }
    }

    private static void copyDirectoryMetadata(Path from, Path to) throws IOException {
        Map<String, Object> a = Files.readAttributes(from, "unix:mode,uid,gid,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
        Map<String, Object> b = Files.readAttributes(to, "unix:mode,uid,gid", LinkOption.NOFOLLOW_LINKS);
        syncUserXattrs(from, to);
        if (!a.get("uid").equals(b.get("uid")) || !a.get("gid").equals(b.get("gid"))) {
            Files.setAttribute(to, "unix:uid", a.get("uid"), LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(to, "unix:gid", a.get("gid"), LinkOption.NOFOLLOW_LINKS);
        }
        int mode = (Integer) a.get("mode") & 07777;
        if (mode != ((Integer) b.get("mode") & 07777)) {
            // after chown, which clears setuid and setgid
            Files.setAttribute(to, "unix:mode", mode);
        }
        Files.setLastModifiedTime(to, (FileTime) a.get("lastModifiedTime"));
    }

    /** The lower directory gets exactly the upper one's {@code user.*} attributes, overlayfs's left out. */
    private static void syncUserXattrs(Path from, Path to) throws IOException {
        UserDefinedFileAttributeView source = xattrView(from);
        UserDefinedFileAttributeView target = xattrView(to);
        if (source == null || target == null) {
            return;
        }
        List<String> wanted;
        List<String> present;
        try {
            wanted = source.list();
            present = target.list();
        } catch (IOException | UnsupportedOperationException e) {
            return; // no xattrs on this filesystem
        }
        for (String name : present) {
            if (!wanted.contains(name) || name.startsWith(OVERLAY_XATTRS)) {
                target.delete(name);
            }
        }
        for (String name : wanted) {
            if (name.startsWith(OVERLAY_XATTRS)) {
                continue;
            }
            byte[] value = read(source, name);
            if (!present.contains(name) || !Arrays.equals(value, read(target, name))) {
                target.write(name, ByteBuffer.wrap(value));
            }
        }
    }

    /** Only for regular files and directories: Java opens the path to reach its xattrs (a FIFO would block). */
    private static void stripOverlayXattrs(Path path) throws IOException {
        UserDefinedFileAttributeView view = xattrView(path);
        if (view == null) {
            return;
        }
        try {
            for (String name : view.list()) {
                if (name.startsWith(OVERLAY_XATTRS)) {
                    view.delete(name);
                }
            }
        } catch (UnsupportedOperationException e) {
            // no xattrs on this filesystem
        }
    }

    /** {@code OTHER}: symlinks, devices, FIFOs, sockets, which cannot carry {@code user.*} attributes. */
    private enum Kind { WHITEOUT, OPAQUE_DIR, DIR, FILE, OTHER }

    private static Kind kind(Path path) throws IOException {
        Map<String, Object> a = Files.readAttributes(path, "unix:mode,rdev,size", LinkOption.NOFOLLOW_LINKS);
        int type = (Integer) a.get("mode") & 0170000;
        if (type == 0020000 && (Long) a.get("rdev") == 0) {
            return Kind.WHITEOUT;
        }
        if (type == 0040000) {
            return hasXattr(path, OPAQUE, "y") ? Kind.OPAQUE_DIR : Kind.DIR;
        }
        // the xattr form of a whiteout (kernel 6.7+): an empty file marked so
        if (type == 0100000) {
            return (Long) a.get("size") == 0 && hasXattr(path, XATTR_WHITEOUT, null) ? Kind.WHITEOUT : Kind.FILE;
        }
        return Kind.OTHER;
    }

    private static boolean hasXattr(Path path, String name, String value) throws IOException {
        UserDefinedFileAttributeView view = xattrView(path);
        if (view == null) {
            return false;
        }
        try {
            if (!view.list().contains(name)) {
                return false;
            }
        } catch (UnsupportedOperationException e) {
            return false;
        }
        return value == null || value.equals(new String(read(view, name), StandardCharsets.UTF_8));
    }

    private static UserDefinedFileAttributeView xattrView(Path path) {
        return Files.getFileAttributeView(path, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
    }

    private static byte[] read(UserDefinedFileAttributeView view, String name) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(view.size(name));
        view.read(name, buffer);
        byte[] value = new byte[buffer.flip().remaining()];
        buffer.get(value);
        return value;
    }

    /** A directory's entries in name order, so the result does not depend on the filesystem's order. */
    private static List<Path> children(Path dir) throws IOException {
        Set<Path> sorted = new TreeSet<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
            stream.forEach(sorted::add);
        }
        return new ArrayList<>(sorted);
    }
}
