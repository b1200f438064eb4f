package dev.kiln.builder.snapshot;

import dev.kiln.oci.layer.LayerWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;

/** Picks the snapshotter for {@code --snapshot-mode}. */
public final class Snapshotters {
    private Snapshotters() {
    }

    public enum Mode {
        /** A RUN's overlay where the sandbox can mount one, a walk for everything else. */
        AUTO,
        /** As {@link #AUTO}, but a RUN that cannot run on an overlay fails instead of falling back. */
        OVERLAY,
        /**
         * Always walk. kaniko's {@code full}, {@code redo} and {@code time} are all walks that differ in
         * what they compare; Kiln's walk is exact for all three (stat with ctime, content where the stat is racy).
         */
        WALK;

        public static Mode of(String value) {
            if (value == null || value.isEmpty()) {
                return AUTO;
            }
            return switch (value.toLowerCase(Locale.ROOT)) {
                case "auto" -> AUTO;
                case "overlay" -> OVERLAY;
                case "walk", "full", "redo", "time" -> WALK;
                default -> throw new IllegalArgumentException("unknown snapshot mode " + value
                        + " (auto, overlay, walk; kaniko's full, redo and time walk)");
            };
        }
    }

    /**
     * A snapshotter for {@code rootfs} starting from its current state: the walking one walks it
     * now, the overlay one only once a direct change is announced.
     */
    public static Snapshotter startingNow(Mode mode, Path rootfs, TreeScanner scanner, LayerWriter writer,
                                          Consumer<String> warnings) throws IOException {
        return startingNow(mode, rootfs, scanner, writer, warnings, UpperStacking.NONE);
    }

    /** As above, with a way to make a RUN's upper directory part of the rootfs without copying it. */
    public static Snapshotter startingNow(Mode mode, Path rootfs, TreeScanner scanner, LayerWriter writer,
                                          Consumer<String> warnings, UpperStacking stacking) throws IOException {
        return switch (mode) {
            case WALK -> WalkingSnapshotter.startingNow(rootfs, scanner, writer, warnings);
            case AUTO -> OverlaySnapshotter.startingNow(rootfs, scanner, writer, warnings, false).stacking(stacking);
            case OVERLAY -> OverlaySnapshotter.startingNow(rootfs, scanner, writer, warnings, true).stacking(stacking);
        };
    }
}
