package dev.kiln.oci.layer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * One entry of a layer tar, independent of the tar library.
 *
 * @param path        the entry name as written or read; {@link LayerWriter} cleans it, a reader
 *                    returns it raw so that the extractor can judge it
 * @param mode        permission bits including setuid, setgid and sticky ({@code 07777})
 * @param size        content length; only regular files have content
 * @param linkTarget  symlink target (verbatim) or hardlink target (a path in the layer)
 * @param xattrs      extended attributes by full name ({@code user.foo}); values are bytes
 * @param content     where a writer reads a regular file's bytes; null for entries read from a tar
 *                    and for empty files
 */
public record LayerEntry(
        String path,
        EntryType type,
        int mode,
        long uid,
        long gid,
        Instant mtime,
        long size,
        String linkTarget,
        int devMajor,
        int devMinor,
        Map<String, byte[]> xattrs,
        Path content) {

    public LayerEntry {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(mtime, "mtime");
        xattrs = xattrs == null || xattrs.isEmpty() ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(xattrs));
        if ((type == EntryType.SYMLINK || type == EntryType.HARDLINK) && (linkTarget == null || linkTarget.isEmpty())) {
            throw new IllegalArgumentException(type + " " + path + " needs a link target");
        }
        if (type != EntryType.FILE && size != 0) {
            throw new IllegalArgumentException(type + " " + path + " cannot have content");
        }
        if (size < 0) {
            throw new IllegalArgumentException("negative size for " + path);
        }
    }

    public static LayerEntry file(String path, Path content) {
        try {
            return file(path, content, Files.size(content));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static LayerEntry file(String path, Path content, long size) {
        return new LayerEntry(path, EntryType.FILE, 0644, 0, 0, Instant.EPOCH, size, null, 0, 0, null, content);
    }

    /** An empty regular file. */
    public static LayerEntry emptyFile(String path) {
        return new LayerEntry(path, EntryType.FILE, 0644, 0, 0, Instant.EPOCH, 0, null, 0, 0, null, null);
    }

    public static LayerEntry directory(String path) {
        return new LayerEntry(path, EntryType.DIRECTORY, 0755, 0, 0, Instant.EPOCH, 0, null, 0, 0, null, null);
    }

    public static LayerEntry symlink(String path, String target) {
        return new LayerEntry(path, EntryType.SYMLINK, 0777, 0, 0, Instant.EPOCH, 0, target, 0, 0, null, null);
    }

    /** A hardlink to {@code target}, a path earlier in this layer or in a lower one. */
    public static LayerEntry hardlink(String path, String target) {
        return new LayerEntry(path, EntryType.HARDLINK, 0644, 0, 0, Instant.EPOCH, 0, target, 0, 0, null, null);
    }

    public static LayerEntry charDevice(String path, int major, int minor) {
        return new LayerEntry(path, EntryType.CHAR_DEVICE, 0666, 0, 0, Instant.EPOCH, 0, null, major, minor, null, null);
    }

    public static LayerEntry blockDevice(String path, int major, int minor) {
        return new LayerEntry(path, EntryType.BLOCK_DEVICE, 0660, 0, 0, Instant.EPOCH, 0, null, major, minor, null, null);
    }

    public static LayerEntry fifo(String path) {
        return new LayerEntry(path, EntryType.FIFO, 0644, 0, 0, Instant.EPOCH, 0, null, 0, 0, null, null);
    }

    /** The whiteout that deletes {@code deletedPath} from lower layers. */
    public static LayerEntry whiteout(String deletedPath) {
        String clean = LayerPaths.clean(deletedPath);
        if (clean.isEmpty()) {
            throw new IllegalArgumentException("cannot white out the root");
        }
        return emptyFile(LayerPaths.child(LayerPaths.parent(clean), Whiteouts.PREFIX + LayerPaths.baseName(clean))).withMode(0);
    }

    /** The marker that hides everything lower layers put in {@code directory}. */
    public static LayerEntry opaque(String directory) {
        return emptyFile(LayerPaths.child(LayerPaths.clean(directory), Whiteouts.OPAQUE)).withMode(0);
    }

    public LayerEntry withPath(String newPath) {
        return new LayerEntry(newPath, type, mode, uid, gid, mtime, size, linkTarget, devMajor, devMinor, xattrs, content);
    }

    public LayerEntry withMode(int newMode) {
        return new LayerEntry(path, type, newMode & 07777, uid, gid, mtime, size, linkTarget, devMajor, devMinor, xattrs, content);
    }

    public LayerEntry withOwner(long newUid, long newGid) {
        return new LayerEntry(path, type, mode, newUid, newGid, mtime, size, linkTarget, devMajor, devMinor, xattrs, content);
    }

    public LayerEntry withMtime(Instant newMtime) {
        return new LayerEntry(path, type, mode, uid, gid, newMtime, size, linkTarget, devMajor, devMinor, xattrs, content);
    }

    public LayerEntry withXattrs(Map<String, byte[]> newXattrs) {
        return new LayerEntry(path, type, mode, uid, gid, mtime, size, linkTarget, devMajor, devMinor, newXattrs, content);
    }

    /** Keeps this entry's name and turns it into a hardlink to {@code target}. */
    public LayerEntry asHardlinkTo(String target) {
        return new LayerEntry(path, EntryType.HARDLINK, mode, uid, gid, mtime, 0, target, 0, 0, null, null);
    }

    public String baseName() {
        String p = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        return p.substring(p.lastIndexOf('/') + 1);
    }

    public boolean isWhiteout() {
        return type == EntryType.FILE && Whiteouts.isWhiteout(baseName());
    }

    public boolean isOpaqueMarker() {
        return type == EntryType.FILE && Whiteouts.isOpaque(baseName());
    }

    @Override
    public String toString() {
        return type + " " + path + (linkTarget == null ? "" : " -> " + linkTarget)
                + String.format(" %04o %d:%d", mode, uid, gid) + (type == EntryType.FILE ? " " + size + "B" : "");
    }
}
