package dev.kiln.builder.snapshot;

import dev.kiln.builder.sandbox.ExecResult;
import dev.kiln.builder.sandbox.RunSpec;
import dev.kiln.builder.sandbox.Sandbox;
import java.io.IOException;
import java.io.OutputStream;

/**
 * Turns what a build step changed in the rootfs into a layer. Stateful: each call captures the
 * changes since the previous call (or since the snapshotter started), so every step that changes
 * the rootfs is followed by one snapshot before the next step starts. Implementations: the
 * {@link WalkingSnapshotter} (stat walk; works anywhere) and the {@link OverlaySnapshotter}
 * (a RUN's overlay upper directory is its change set); {@link Snapshotters} picks one.
 */
public interface Snapshotter {
    /** Writes the changes since the last snapshot to {@code out} as a layer, and moves on from them. */
    SnapshotLayer snapshot(OutputStream out) throws IOException;

    /**
     * Announces that the rootfs is about to change other than through {@link #run} (COPY, ADD and
     * WORKDIR write it from Java), so a snapshotter that has not yet taken the state such a change
     * is compared against takes it now. A snapshotter that always has it does nothing.
     */
    default void beforeDirectChange() throws IOException {
    }

    /**
     * Runs a RUN step's command through {@code sandbox} so that the next snapshot sees what it
     * changed; by default simply on the rootfs.
     */
    default ExecResult run(Sandbox sandbox, RunSpec spec) throws IOException, InterruptedException {
        return sandbox.run(spec);
    }
}
