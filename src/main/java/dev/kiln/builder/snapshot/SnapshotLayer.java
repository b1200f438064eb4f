package dev.kiln.builder.snapshot;

import dev.kiln.oci.layer.WrittenLayer;

/** One snapshot's result: what changed and the layer written for it (empty tar when nothing did). */
public record SnapshotLayer(ChangeSet changes, WrittenLayer layer) {
    public boolean isEmpty() {
        return changes.isEmpty();
    }
}
