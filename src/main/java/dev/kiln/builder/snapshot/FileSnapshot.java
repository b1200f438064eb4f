package dev.kiln.builder.snapshot;

import java.time.Instant;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The state of a rootfs tree at one moment: rootfs-relative path ({@code etc/passwd}; the root
 * itself is not included) to its stat. Immutable.
 */
public final class FileSnapshot {
    private static final FileSnapshot EMPTY = new FileSnapshot(Map.of(), Instant.EPOCH);

    private final Map<String, FileStat> entries;
    private final Instant takenAt;

    public FileSnapshot(Map<String, FileStat> entries, Instant takenAt) {
        this.entries = Collections.unmodifiableMap(new HashMap<>(entries));
        this.takenAt = takenAt;
    }

    /** The state before anything exists: diffing against it makes a layer of the whole tree. */
    public static FileSnapshot empty() {
        return EMPTY;
    }

    public FileStat get(String path) {
        return entries.get(path);
    }

    public boolean contains(String path) {
        return entries.containsKey(path);
    }

    public Set<String> paths() {
        return entries.keySet();
    }

    public Map<String, FileStat> entries() {
        return entries;
    }

    public int size() {
        return entries.size();
    }

    /** When the walk started; stats changed within the racy window before it carry a hash. */
    public Instant takenAt() {
        return takenAt;
    }
}
