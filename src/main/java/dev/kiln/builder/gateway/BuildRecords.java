package dev.kiln.builder.gateway;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * This replica's build records: each change is saved to {@link BuildFiles} before it becomes
 * visible, then told to the {@link BuildService.Listener}. Reads need no lock; changes are
 * serialised, so a step recorded while a user cancels cannot undo the other's change.
 */
final class BuildRecords {
    private final BuildFiles files;
    private final Consumer<String> problems;
    private final Map<String, BuildRecord> records = new ConcurrentHashMap<>();
    private volatile BuildService.Listener listener = (before, after) -> { };

    BuildRecords(BuildFiles files, Consumer<String> problems) {
        this.files = files;
        this.problems = problems;
    }

    void listen(BuildService.Listener listener) {
        this.listener = listener;
    }

    BuildRecord get(String id) {
        return records.get(id);
    }

    boolean contains(String id) {
        return records.containsKey(id);
    }

    /** A record read back from the store at start-up, already saved: nobody is told. */
    void loaded(BuildRecord record) {
        records.put(record.id(), record);
    }

    /** Saves a new or changed record, then tells the listener. */
    synchronized BuildRecord save(BuildRecord next) throws IOException {
        files.save(next);
        BuildRecord before = records.put(next.id(), next);
        tell(before, next);
        return next;
    }

    /** Applies {@code change} to the build's current record and saves the result. */
    synchronized BuildRecord update(String id, UnaryOperator<BuildRecord> change) {
        BuildRecord next = change.apply(records.get(id));
        try {
            return save(next);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save build " + id + ": " + e.getMessage(), e);
        }
    }

    /** Newest first; {@code state} null for all. */
    List<BuildRecord> list(BuildState state) {
        return records.values().stream()
                .filter(r -> state == null || r.state() == state)
                .sorted(Comparator.comparing(BuildRecord::createdAt).reversed().thenComparing(BuildRecord::id))
                .toList();
    }

    private void tell(BuildRecord before, BuildRecord after) {
        try {
            listener.changed(before, after);
        } catch (RuntimeException e) {
            problems.accept("build " + after.id() + ": a listener failed: " + e);
        }
    }
}
