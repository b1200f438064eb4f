package dev.kiln.build.snapshot;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Turns what a build step changed in the rootfs into a layer. Stateful: each call captures the
 * changes since the previous call (or since the snapshotter started). Implementations: the
 * {@link WalkingSnapshotter} (stat walk; works anywhere) and, later, an overlay snapshotter
 * whose upper directory is the change set.
 */
public interface Snapshotter {
    /** Writes the changes since the last snapshot to {@code out} as a layer, and moves on from them. */
    SnapshotLayer snapshot(OutputStream out) throws IOException;
}
