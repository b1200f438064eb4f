package dev.kiln.builder.rootfs;

import dev.kiln.oci.layer.LayerPaths;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * For a layer unpacked on its own ({@link LayerExtractor#forLayerDir}): turns its whiteouts and
 * opaque markers into overlayfs's own markers with {@code userxattr}, which need no privilege,
 * and records them in the {@link LayerDirIndex}. Whiteouts wait until every entry of the layer is
 * in: a whiteout of what the layer itself adds hides nothing, and none is needed in an opaque
 * directory, whichever comes first in the tar.
 */
final class OverlayMarkers {
    /** Makes the missing directories down to {@code dir}, as the extractor does for any entry. */
    interface Parents {
        void make(String name, Path dir) throws IOException;
    }

    private final RootfsPath dir;
    private final LayerDirIndex index;
    private final List<Path> pendingWhiteouts = new ArrayList<>();

    OverlayMarkers(RootfsPath dir, LayerDirIndex index) {
        this.dir = dir;
        this.index = index;
    }

    /** {@code victim} (a host path inside the layer directory) is whited out, once the layer is in. */
    void whiteout(Path victim) {
        pendingWhiteouts.add(victim);
    }

    /** {@code directory} hides what lower layers hold in it. */
    void opaque(Path directory) throws IOException {
        index.opaque(relative(directory));
        LayerDirIndex.setOverlayXattr(directory, LayerDirIndex.OPAQUE, LayerDirIndex.OPAQUE_ALL);
    }

    /** Marks the pending whiteouts; call once, after the layer's last entry. */
    void finish(Parents parents) throws IOException {
        // first the directories the layer replaces, so no marker is made below one of them
        for (Path victim : pendingWhiteouts) {
            BasicFileAttributes own = Trees.lstat(victim);
            String rel = relative(victim);
            // what the layer puts there stays, but nothing of the lower layers shows through it
            if (own != null && own.isDirectory() && !index.opaques().contains(rel) && !index.isBelowOpaque(rel)) {
                opaque(victim);
            }
        }
        for (Path victim : pendingWhiteouts) {
            String rel = relative(victim);
            if (Trees.lstat(victim) != null || index.isBelowOpaque(rel) || index.whiteouts().contains(rel)) {
                continue;
            }
            Path parent = victim.getParent();
            parents.make(rel, parent);
            index.whiteout(rel);
            Files.createFile(victim);
            LayerDirIndex.setOverlayXattr(victim, LayerDirIndex.WHITEOUT, LayerDirIndex.OPAQUE_ALL);
            if (!index.opaques().contains(relative(parent))) {
                LayerDirIndex.setOverlayXattr(parent, LayerDirIndex.OPAQUE, LayerDirIndex.HAS_WHITEOUTS);
            }
        }
    }

    private String relative(Path host) {
        return LayerPaths.clean(dir.inside(host));
    }
}
