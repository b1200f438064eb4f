package dev.kiln.builder.gateway;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * How long the gateway keeps a finished build (its record, log and step records), like a CI
 * system's retention ({@code kiln.builds.retention.*}). Only builds that ended are ever let go:
 * a queued or running one is someone's work in progress.
 *
 * @param maxAge      a build that finished longer ago goes; null keeps builds of any age
 * @param maxFinished the newest this many finished builds stay, older ones go; 0 keeps any number
 */
public record RetentionPolicy(Duration maxAge, int maxFinished) {
    public static final RetentionPolicy KEEP_ALL = new RetentionPolicy(null, 0);

    /** The oldest first, so a prune cut short has let go of what mattered least. */
    private static final Comparator<BuildRecord> OLDEST_FIRST =
            Comparator.comparing(RetentionPolicy::finished).thenComparing(BuildRecord::id);

    public RetentionPolicy {
        if (maxAge != null && (maxAge.isNegative() || maxAge.isZero())) {
            throw new IllegalArgumentException("the longest a finished build is kept must be positive, not " + maxAge);
        }
        if (maxFinished < 0) {
            throw new IllegalArgumentException("the finished builds kept must be 0 (any number) or more, not " + maxFinished);
        }
    }

    public boolean keepsAll() {
        return maxAge == null && maxFinished == 0;
    }

    /**
     * The finished builds among {@code records} this policy lets go at {@code now}, oldest first.
     *
     * @param busy builds to keep this time whatever their age (a log being read); they still count
     *             towards {@code maxFinished}, so the next prune takes them
     */
    public List<BuildRecord> expired(Collection<BuildRecord> records, Instant now, Predicate<String> busy) {
        if (keepsAll()) {
            return List.of();
        }
        List<BuildRecord> finished = new ArrayList<>();
        for (BuildRecord record : records) {
            if (record.state().ended()) {
                finished.add(record);
            }
        }
        finished.sort(OLDEST_FIRST);
        Set<BuildRecord> out = new LinkedHashSet<>();
        if (maxFinished > 0 && finished.size() > maxFinished) {
            out.addAll(finished.subList(0, finished.size() - maxFinished));
        }
        if (maxAge != null) {
            Instant cutoff = now.minus(maxAge);
            for (BuildRecord record : finished) {
                if (!finished(record).isBefore(cutoff)) {
                    break; // oldest first: the rest are younger still
                }
                out.add(record);
            }
        }
        List<BuildRecord> expired = new ArrayList<>();
        for (BuildRecord record : out) {
            if (!busy.test(record.id())) {
                expired.add(record);
            }
        }
        expired.sort(OLDEST_FIRST);
        return expired;
    }

    /** When the build ended; a record without {@code finishedAt} counts from its creation. */
    private static Instant finished(BuildRecord record) {
        Instant at = record.finishedAt() != null ? record.finishedAt() : record.createdAt();
        return at != null ? at : Instant.EPOCH;
    }
}
