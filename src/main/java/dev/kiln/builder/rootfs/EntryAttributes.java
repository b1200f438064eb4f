package dev.kiln.builder.rootfs;

import dev.kiln.oci.layer.LayerEntry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Gives an unpacked entry the owner, mode, time and extended attributes its tar header names, as
 * far as the extracting process may: owners only when privileged, xattrs only in the {@code user.}
 * namespace (Java reaches no other).
 */
final class EntryAttributes {
    private final boolean privileged;
    private final boolean refuseOverlayXattrs;

    /**
     * @param privileged          whether to chown, which only root may do
     * @param refuseOverlayXattrs for a layer unpacked to be stacked by overlayfs: a layer's own
     *                            {@code user.overlay.*} xattr would steer that overlay
     */
    EntryAttributes(boolean privileged, boolean refuseOverlayXattrs) {
        this.privileged = privileged;
        this.refuseOverlayXattrs = refuseOverlayXattrs;
    }

    void owner(Path path, LayerEntry entry) throws IOException {
        if (!privileged) {
            return;
        }
        // lchown by path; before chmod, because chown clears setuid and setgid
        Files.setAttribute(path, "unix:uid", (int) entry.uid(), LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(path, "unix:gid", (int) entry.gid(), LinkOption.NOFOLLOW_LINKS);
    }

    /** By path (chmod(2)): the entry was just made here and is not a symlink. */
    void mode(Path path, LayerEntry entry) throws IOException {
        Files.setAttribute(path, "unix:mode", entry.mode());
    }

    void time(Path path, LayerEntry entry) throws IOException {
        Files.getFileAttributeView(path, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .setTimes(FileTime.from(entry.mtime()), null, null);
    }

    /**
     * Sets the entry's {@code user.*} xattrs; every other one ({@code security.*} and
     * {@code trusted.*}: file capabilities, for one) is reported to {@code warn} and left out.
     *
     * @return how many were left out
     */
    int xattrs(Path path, LayerEntry entry, Consumer<String> warn) {
        int skipped = 0;
        for (Map.Entry<String, byte[]> xattr : entry.xattrs().entrySet()) {
            String key = xattr.getKey();
            if (refuseOverlayXattrs && key.startsWith(LayerDirIndex.OVERLAY_PREFIX)) {
                warn.accept(entry.path() + ": xattr " + key + " not set (it would steer the overlay that stacks this layer)");
                skipped++;
                continue;
            }
            if (!key.startsWith("user.")) {
                warn.accept(entry.path() + ": xattr " + key + " not set (only user.* attributes are supported)");
                skipped++;
                continue;
            }
            try {
                UserDefinedFileAttributeView view = Files.getFileAttributeView(path, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
                view.write(key.substring("user.".length()), ByteBuffer.wrap(xattr.getValue()));
            } catch (IOException | UnsupportedOperationException e) {
                warn.accept(entry.path() + ": xattr " + key + " not set: " + e.getMessage());
                skipped++;
            }
        }
        return skipped;
    }
}
