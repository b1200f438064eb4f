package dev.kiln.builder.gateway;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Lets go of this replica's finished builds by a {@link RetentionPolicy}: when it is applied (at
 * start-up), after each build ends, and whenever the scheduler asks. Each replica prunes only the
 * builds it accepted, the ones in its own {@link BuildRecords}: it alone writes their records and
 * their copies in the shared archive.
 */
public final class BuildRetention {
    /** A log asked for this recently may still be going out: its build waits for the next prune. */
    static final Duration LOG_READ_GRACE = Duration.ofMinutes(1);

    private final BuildRecords records;
    private final Clock clock;
    private final Map<String, Instant> logReads = new ConcurrentHashMap<>();
    private volatile RetentionPolicy policy = RetentionPolicy.KEEP_ALL;
    private volatile Consumer<List<String>> onPruned = ids -> { };

    BuildRetention(BuildRecords records, Clock clock) {
        this.records = records;
        this.clock = clock;
    }

    public RetentionPolicy policy() {
        return policy;
    }

    /**
     * Keeps finished builds by {@code policy} from now on and prunes at once.
     *
     * @param onPruned told the ids of each prune that let builds go, oldest first; must not block
     * @return the ids pruned now
     */
    public List<String> apply(RetentionPolicy policy, Consumer<List<String>> onPruned) {
        this.onPruned = onPruned;
        this.policy = policy;
        return prune();
    }

    /** Lets go of what the policy expires now; the ids, oldest first. */
    public List<String> prune() {
        RetentionPolicy current = policy;
        if (current.keepsAll()) {
            return List.of();
        }
        Instant now = clock.instant();
        Instant recent = now.minus(LOG_READ_GRACE);
        logReads.values().removeIf(at -> at.isBefore(recent));
        List<String> pruned = records.prune(current, now, logReads::containsKey);
        if (!pruned.isEmpty()) {
            onPruned.accept(pruned);
        }
        return pruned;
    }

    /** Someone is reading build {@code id}'s log: a prune leaves it for {@link #LOG_READ_GRACE}. */
    void logRead(String id) {
        if (!policy.keepsAll()) { // else nothing would ever empty the map
            logReads.put(id, clock.instant());
        }
    }
}
