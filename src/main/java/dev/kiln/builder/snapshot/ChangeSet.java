package dev.kiln.builder.snapshot;

import java.util.List;

/**
 * What changed between two snapshots, in tar order.
 *
 * @param changed    paths added or modified (content, metadata or type), to be written whole
 * @param whiteouts  deleted paths that need a whiteout: deletions below another deleted or
 *                   replaced path, or below an opaque directory, are implied and not listed
 * @param opaqueDirs directories that lost all their previous content, recorded with one opaque
 *                   marker instead of a whiteout per old entry
 */
public record ChangeSet(List<String> changed, List<String> whiteouts, List<String> opaqueDirs) {
    public ChangeSet {
        changed = List.copyOf(changed);
        whiteouts = List.copyOf(whiteouts);
        opaqueDirs = List.copyOf(opaqueDirs);
    }

    public boolean isEmpty() {
        return changed.isEmpty() && whiteouts.isEmpty() && opaqueDirs.isEmpty();
    }
}
