package dev.kiln.builder.rootfs;

import dev.kiln.oci.layer.LayerPaths;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Applies a layer unpacked on its own ({@link LayerExtractor#forLayerDir}) onto a root filesystem
 * by copying, where the layers cannot be stacked by overlayfs: the same result as {@link
 * LayerExtractor} applying the layer's tar there. Its whiteouts and opaque directories delete
 * lower content first; then every entry is copied (contents, mode, owner when root, mtime, user
 * xattrs but overlayfs's own markers), hardlinks inside the layer stay hardlinks, and the
 * directories the layer did not list follow the rootfs's symlinks inside it, as the tar would.
 * The layer's tree is only read: nothing in the rootfs shares an inode with it, so a later write
 * or chmod in the rootfs cannot change the kept layer.
 */
public final class LayerDirMerge {
    private final RootfsPath rootfs;
    /** Inode (of the layer's tree) to the first name copied, for hardlinks. */
    private final Map<Object, Path> copiedLinks = new HashMap<>();

    private LayerDirMerge(RootfsPath rootfs) {
        this.rootfs = rootfs;
    }

    public static void apply(Path layerDir, LayerDirIndex index, Path rootfs) throws IOException {
        new LayerDirMerge(RootfsPath.of(rootfs)).merge(layerDir, index);
    }

    private void merge(Path layerDir, LayerDirIndex index) throws IOException {
        // deletions hit the lower layers only, so they come before any of this layer's files
        for (String dir : index.opaques()) {
            Path target = rootfs.resolve(dir);
            BasicFileAttributes attributes = Trees.lstat(target);
            if (attributes != null && attributes.isDirectory()) {
                for (Path child : children(target)) {
                    Trees.deleteTree(child);
                }
            }
        }
        for (String path : index.whiteouts()) {
            Trees.deleteTree(rootfs.resolveNoFollow(path));
        }
        Path root = rootfs.root();
        copyChildren(layerDir, "", root, index);
        if (index.isRootListed()) {
            copyDirectoryMetadata(layerDir, root);
        }
    }

    private void copyChildren(Path from, String rel, Path to, LayerDirIndex index) throws IOException {
        for (Path source : children(from)) {
            String name = source.getFileName().toString();
            String childRel = LayerPaths.child(rel, name);
            if (index.whiteouts().contains(childRel)) {
                continue;
            }
            BasicFileAttributes attributes = Files.readAttributes(source, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            Path target = to.resolve(name);
            BasicFileAttributes existing = Trees.lstat(target);
            if (attributes.isDirectory()) {
                boolean implicit = index.implicitDirectories().contains(childRel);
                if (implicit && existing != null && existing.isSymbolicLink()) {
                    // the tar named a path through this symlink: its entries land where it points
                    target = rootfs.resolve(childRel);
                    existing = Trees.lstat(target);
                    if (existing == null) {
                        Files.createDirectories(target);
                    } else if (!existing.isDirectory()) {
                        throw new LayerExtractionException(childRel, "parent " + rootfs.inside(target) + " is not a directory");
                    }
                    copyChildren(source, childRel, target, index);
                    continue;
                }
                boolean created = existing == null || !existing.isDirectory();
                if (created) {
                    if (existing != null) {
                        Trees.deleteTree(target);
                    }
                    Files.createDirectory(target);
                }
                copyChildren(source, childRel, target, index);
                if (created || !implicit) {
                    copyDirectoryMetadata(source, target);
                }
                continue;
            }
            if (existing != null) {
                Trees.deleteTree(target);
            }
            if (attributes.isOther()) {
                // a FIFO: Files.copy would open it and wait for a writer forever
                Trees.copyFifo(source, target);
                continue;
            }
            if (attributes.isRegularFile() && (Integer) Files.getAttribute(source, "unix:nlink", LinkOption.NOFOLLOW_LINKS) > 1) {
                Path first = copiedLinks.putIfAbsent(attributes.fileKey(), target);
                if (first != null) {
                    Files.createLink(target, first);
                    continue;
                }
            }
            // COPY_ATTRIBUTES: mode, times, owner (when allowed) and user xattrs
            Files.copy(source, target, LinkOption.NOFOLLOW_LINKS, StandardCopyOption.COPY_ATTRIBUTES);
            if (attributes.isSymbolicLink()) {
                // copying a symlink keeps its owner but not its mtime
                Files.getFileAttributeView(target, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                        .setTimes(attributes.lastModifiedTime(), null, null);
            }
        }
    }

    /**
     * A directory's owner (when root), user xattrs but overlayfs's own markers, mode and mtime;
     * after its children are in, since they change its mtime.
     */
    public static void copyDirectoryMetadata(Path source, Path target) throws IOException {
        Map<String, Object> a = Files.readAttributes(source, "unix:mode,uid,gid,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
        if (Trees.runningAsRoot()) {
            Files.setAttribute(target, "unix:uid", a.get("uid"), LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(target, "unix:gid", a.get("gid"), LinkOption.NOFOLLOW_LINKS);
        }
        UserDefinedFileAttributeView from = Files.getFileAttributeView(source, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        UserDefinedFileAttributeView to = Files.getFileAttributeView(target, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        for (String name : from.list()) {
            if (("user." + name).startsWith(LayerDirIndex.OVERLAY_PREFIX)) {
                continue;
            }
            ByteBuffer value = ByteBuffer.allocate(from.size(name));
            from.read(name, value);
            value.flip();
            to.write(name, value);
        }
        Files.setAttribute(target, "unix:mode", (Integer) a.get("mode") & 07777);
        Files.setLastModifiedTime(target, (FileTime) a.get("lastModifiedTime"));
    }

    private static List<Path> children(Path dir) throws IOException {
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
            stream.forEach(children::add);
        }
        return children;
    }
}
