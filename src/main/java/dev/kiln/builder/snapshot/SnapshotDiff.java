package dev.kiln.builder.snapshot;

import dev.kiln.oci.layer.LayerPaths;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Computes the {@link ChangeSet} between two snapshots: pure bookkeeping over the two maps
 * (kaniko's LayeredMap to the Snapshotter's I/O). The only I/O is the optional content check for
 * racy files, behind {@link ContentCheck}.
 */
public final class SnapshotDiff {
    /** Reports whether a file whose stat did not change has different content than it had. */
    @FunctionalInterface
    public interface ContentCheck {
        boolean differs(String path, FileStat before) throws IOException;
    }

    private SnapshotDiff() {
    }

    public static ChangeSet compute(FileSnapshot before, FileSnapshot after, ContentCheck contentCheck) throws IOException {
        List<String> changed = new ArrayList<>();
        for (Map.Entry<String, FileStat> entry : after.entries().entrySet()) {
            String path = entry.getKey();
            FileStat now = entry.getValue();
            FileStat then = before.get(path);
            if (then == null || !then.sameStat(now)) {
                changed.add(path);
            } else if (then.contentHash() != null && now.type() == FileType.REGULAR && contentCheck.differs(path, then)) {
                changed.add(path);
            }
        }

        // A deleted path needs a whiteout unless an ancestor's whiteout or replacement covers it.
        Set<String> gone = new HashSet<>();
        List<String> deleted = new ArrayList<>();
        for (String path : before.paths()) {
            FileStat now = after.get(path);
            if (now == null) {
                gone.add(path);
                deleted.add(path);
            } else if (before.get(path).type() == FileType.DIRECTORY && now.type() != FileType.DIRECTORY) {
                gone.add(path);
            }
        }
        List<String> uncovered = new ArrayList<>();
        for (String path : deleted) {
            if (!hasAncestorIn(path, gone)) {
                uncovered.add(path);
            }
        }

        List<String> opaque = opaqueDirectories(before, after, uncovered);
        List<String> whiteouts = new ArrayList<>();
        for (String path : uncovered) {
            if (!opaque.contains(LayerPaths.parent(path))) {
                whiteouts.add(path);
            }
        }
        changed.sort(LayerPaths::compare);
        whiteouts.sort(LayerPaths::compare);
        opaque.sort(LayerPaths::compare);
        return new ChangeSet(changed, whiteouts, opaque);
    }

    /**
     * A directory whose previous entries are all gone (deleted, or replaced by something of
     * another type) and which lost at least two of them is recorded as opaque: one marker instead
     * of many whiteouts (the {@code rm -rf dir/*} case), and exact, because everything in it now is
     * new and so in the change set already. A directory that lost a single entry keeps the plain
     * whiteout, the form every tool expects. Never the root: an opaque root would hide the base.
     */
    private static List<String> opaqueDirectories(FileSnapshot before, FileSnapshot after, List<String> uncovered) {
        Map<String, Integer> deletedChildren = new HashMap<>();
        for (String path : uncovered) {
            deletedChildren.merge(LayerPaths.parent(path), 1, Integer::sum);
        }
        deletedChildren.keySet().removeIf(dir -> dir.isEmpty() || deletedChildren.get(dir) < 2);
        if (deletedChildren.isEmpty()) {
            return new ArrayList<>();
        }
        Map<String, Integer> survivors = new HashMap<>();
        for (Map.Entry<String, FileStat> entry : before.entries().entrySet()) {
            String parent = LayerPaths.parent(entry.getKey());
            if (deletedChildren.containsKey(parent)) {
                FileStat now = after.get(entry.getKey());
                if (now != null && now.type() == entry.getValue().type()) {
                    survivors.merge(parent, 1, Integer::sum);
                }
            }
        }
        List<String> opaque = new ArrayList<>();
        for (String dir : deletedChildren.keySet()) {
            if (!survivors.containsKey(dir)) {
                opaque.add(dir);
            }
        }
        return opaque;
    }

    private static boolean hasAncestorIn(String path, Set<String> set) {
        for (String p = LayerPaths.parent(path); !p.isEmpty(); p = LayerPaths.parent(p)) {
            if (set.contains(p)) {
                return true;
            }
        }
        return false;
    }
}
