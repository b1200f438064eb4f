package dev.kiln.builder.layers;

import dev.kiln.builder.rootfs.LayerDirIndex;
import dev.kiln.builder.rootfs.LayerDirMerge;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

/**
 * How a stack of kept layers becomes a root filesystem: an overlayfs mount of them where this
 * kernel and process allow it, else a copy of each layer in turn. Whether overlayfs works is
 * probed once per store, in the store's own directory, with a whiteout in the form the kept
 * layers use (an xattr, which kernels before 6.7 do not read): a kernel, filesystem or missing
 * privilege that refuses it makes {@link LayerStore.Mode#AUTO} copy, said once in an INFO line.
 */
final class LayerStacker {
    private static final System.Logger LOG = System.getLogger(LayerStacker.class.getName());

    /** A stacked rootfs: its overlay mount (null for a copy) and how it was made, for the build log. */
    record Stacked(OverlayMount mount, String how) {
    }

    private final Path storeDir;
    private final Path records;
    private final Path tmp;
    private boolean probed;
    private String refusal;

    LayerStacker(Path storeDir, Path records, Path tmp) {
        this.storeDir = storeDir;
        this.records = records;
        this.tmp = tmp;
    }

    Stacked stack(List<Path> lowers, Path rootfs, LayerStore.Mode mode) throws IOException {
        String copyBecause = null;
        if (mode != LayerStore.Mode.COPY && !lowers.isEmpty()) {
            copyBecause = mode == LayerStore.Mode.AUTO ? refusal() : null;
            if (copyBecause == null && !overlaySafe(lowers)) {
                copyBecause = "a layer writes through a lower layer's symlink, which overlayfs would not follow";
            }
            if (copyBecause == null) {
                Path upper = rootfs.resolveSibling(rootfs.getFileName() + ".upper");
                Path work = rootfs.resolveSibling(rootfs.getFileName() + ".work");
                try {
                    OverlayMount mount = OverlayMount.mount(lowers.stream().map(l -> l.resolve("fs")).toList(), upper, work,
                            rootfs, records);
                    return new Stacked(mount, "stacked " + lowers.size() + " kept layers by overlayfs");
                } catch (OverlayMount.RefusedException e) {
                    if (mode == LayerStore.Mode.OVERLAY) {
                        throw new IOException("cannot mount an overlay of the kept layers on " + rootfs + " (" + e.getMessage()
                                + "; needs root or CAP_SYS_ADMIN and a filesystem overlayfs accepts); use the copy mode", e);
                    }
                    copyBecause = "overlayfs refused: " + e.getMessage();
                }
            }
        }
        for (Path layer : lowers) {
            LayerDirMerge.apply(layer.resolve("fs"), LayerDirIndex.read(layer.resolve("index")), rootfs);
        }
        return new Stacked(null, "copied " + lowers.size() + " kept layers" + (copyBecause == null ? "" : " (" + copyBecause + ")"));
    }

    /** A stack overlayfs shows as the tar layers would: no layer lists a path through a lower symlink. */
    private static boolean overlaySafe(List<Path> lowers) {
        for (Path layer : lowers) {
            if (Files.exists(layer.resolve("overlay-unsafe"))) {
                return false;
            }
        }
        return true;
    }

    /** Null where the kept layers can be stacked by overlayfs, else why not; probed once. */
    synchronized String refusal() throws IOException {
        if (!probed) {
            refusal = probe();
            probed = true;
            if (refusal != null) {
                LOG.log(System.Logger.Level.INFO, "layer store " + storeDir + ": root filesystems are copies of the kept layers, "
                        + "not overlayfs mounts: " + refusal);
            }
        }
        return refusal;
    }

    /** Two lower layers, a file and its whiteout as the extractor marks it, mounted in {@code tmp/}. */
    private String probe() throws IOException {
        return TmpDirs.inLocked(tmp, "probe-" + UUID.randomUUID(), probe -> {
            Path base = Files.createDirectories(probe.resolve("base/d"));
            Files.writeString(base.resolve("gone"), "x");
            Files.writeString(base.resolve("kept"), "x");
            Path top = Files.createDirectories(probe.resolve("top/d"));
            Path whiteout = Files.createFile(top.resolve("gone"));
            try {
                LayerDirIndex.setOverlayXattr(whiteout, LayerDirIndex.WHITEOUT, LayerDirIndex.OPAQUE_ALL);
                LayerDirIndex.setOverlayXattr(top, LayerDirIndex.OPAQUE, LayerDirIndex.HAS_WHITEOUTS);
            } catch (IOException | UnsupportedOperationException e) {
                return "the store's filesystem has no user xattrs: " + e.getMessage();
            }
            Path merged = Files.createDirectory(probe.resolve("merged"));
            OverlayMount mount;
            try {
                mount = OverlayMount.mount(List.of(probe.resolve("base"), probe.resolve("top")), probe.resolve("upper"),
                        probe.resolve("work"), merged, records);
            } catch (OverlayMount.RefusedException e) {
                return e.getMessage();
            }
            boolean whiteoutRead = !Files.exists(merged.resolve("d/gone"), LinkOption.NOFOLLOW_LINKS)
                    && Files.exists(merged.resolve("d/kept"), LinkOption.NOFOLLOW_LINKS);
            try {
                mount.unmount();
            } catch (IOException e) {
                // a mount that cannot be undone would stay behind after every build: copy instead
                return e.getMessage();
            }
            return whiteoutRead ? null : "this kernel's overlayfs does not read xattr whiteouts (needs Linux 6.7 or later)";
        });
    }
}
