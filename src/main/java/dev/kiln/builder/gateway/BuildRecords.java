package dev.kiln.builder.gateway;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Predicate;
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
    private final BuildRetention retention;

    BuildRecords(BuildFiles files, Consumer<String> problems) {
        this(files, problems, Clock.systemUTC());
    }

    /** @param clock what a build's age is measured by ({@link BuildRetention}) */
    BuildRecords(BuildFiles files, Consumer<String> problems, Clock clock) {
        this.files = files;
        this.problems = problems;
        this.retention = new BuildRetention(this, clock);
    }

    BuildRetention retention() {
        return retention;
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

    /**
     * Saves a new or changed record, then tells the listener; a build that just ended may push the
     * oldest finished ones past the retention policy, which are pruned then.
     */
    synchronized BuildRecord save(BuildRecord next) throws IOException {
        files.save(next);
        BuildRecord before = records.put(next.id(), next);
        tell(before, next);
        if (next.state().ended() && (before == null || !before.state().ended())) {
            retention.prune();
        }
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

    /**
     * Lets go of the finished builds {@code policy} expires at {@code now}, except the {@code busy} ones:
     * each leaves the list first, then the store ({@link BuildFiles#remove}); one that cannot be removed
     * is reported and stays. Serialised with saves, so no change to a build can bring it back.
     *
     * @return the ids let go, oldest first
     */
    synchronized List<String> prune(RetentionPolicy policy, Instant now, Predicate<String> busy) {
        List<String> pruned = new ArrayList<>();
        for (BuildRecord record : policy.expired(records.values(), now, busy)) {
            records.remove(record.id());
            try {
                files.remove(record.id());
                pruned.add(record.id());
            } catch (IOException | RuntimeException e) {
                records.put(record.id(), record);
                problems.accept("build " + record.id() + ": cannot prune it: " + e.getMessage());
            }
        }
        if (policy.maxAge() != null) {
            files.removeRemoteCopies(policy.maxAge(), problems);
        }
        return pruned;
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
