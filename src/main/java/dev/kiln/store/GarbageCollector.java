package dev.kiln.store;

import dev.kiln.oci.Digest;
import dev.kiln.oci.RepositoryName;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * Online mark and sweep, safe while pushes go on (on this replica or others):
 * <ol>
 * <li>mark: every blob a manifest of some repository references;</li>
 * <li>retire the rest that were neither written nor touched within the grace period: moved out of
 *     sight, reversibly (a push that wants a retired blob fails instead of being acknowledged);</li>
 * <li>mark again: a manifest written since the first mark holds on to its blobs, which are restored;</li>
 * <li>purge what is still retired.</li>
 * </ol>
 * A manifest push touches its blobs, links the manifest, then checks its blobs are still there
 * ({@link ManifestLinks}); so either the second mark sees the manifest, or the push fails. Only one
 * collection may run on a store at a time (callers hold a {@link StoreLock}); {@code held} is asked
 * before every step that deletes, and a collection that lost its lock restores what it retired and stops.
 */
public final class GarbageCollector {
    private final Store store;
    private final Duration grace;
    private final Clock clock;
    private Runnable afterMark = () -> { };
    private Runnable afterRetire = () -> { };

    public GarbageCollector(Store store, Duration grace, Clock clock) {
        this.store = store;
        this.grace = grace;
        this.clock = clock;
    }

    /** Lets a test push at exactly these moments: after the first mark, and between retiring and the second mark. */
    GarbageCollector hooks(Runnable afterMark, Runnable afterRetire) {
        this.afterMark = afterMark;
        this.afterRetire = afterRetire;
        return this;
    }

    public record Report(int blobsKept, int blobsRemoved, long bytesRemoved, int linksRemoved, int uploadsExpired) {
    }

    /** The lock was lost (expired, taken over) mid-collection; nothing was deleted after that. */
    public static final class LockLostException extends IOException {
        LockLostException(String message) {
            super(message);
        }
    }

    public Report run(Duration uploadTtl) throws IOException {
        return run(uploadTtl, () -> true);
    }

    public Report run(Duration uploadTtl, BooleanSupplier held) throws IOException {
        for (Digest leftover : store.blobs().retired()) {
            store.blobs().restore(leftover); // a collection that died midway: judge those blobs again
        }
        Set<Digest> marked = mark();
        Instant cutoff = clock.instant().minus(grace);
        List<BlobInfo> candidates = new ArrayList<>();
        int[] kept = {0};
        try {
            store.blobs().forEach(info -> {
                if (marked.contains(info.digest()) || !info.lastModified().isBefore(cutoff)) {
                    kept[0]++;
                } else {
                    candidates.add(info);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        afterMark.run();
        List<BlobInfo> retired = new ArrayList<>();
        try {
            for (BlobInfo candidate : candidates) {
                requireHeld(held);
                if (store.blobs().retire(candidate.digest(), cutoff)) {
                    retired.add(candidate);
                } else {
                    kept[0]++;
                }
            }
            afterRetire.run();
            Set<Digest> markedAgain = mark();
            requireHeld(held);
            int removed = 0;
            long bytes = 0;
            Set<Digest> removedDigests = new HashSet<>();
            for (BlobInfo blob : retired) {
                if (markedAgain.contains(blob.digest())) {
                    store.blobs().restore(blob.digest());
                    kept[0]++;
                } else {
                    store.blobs().purge(blob.digest());
                    removed++;
                    bytes += blob.size();
                    removedDigests.add(blob.digest());
                }
            }
            retired.clear();
            int links = removeLinks(removedDigests);
            int expired = store.uploads().expire(clock.instant().minus(uploadTtl));
            return new Report(kept[0], removed, bytes, links, expired);
        } finally {
            for (BlobInfo blob : retired) {
                store.blobs().restore(blob.digest()); // stopped early: keep everything
            }
        }
    }

    private static void requireHeld(BooleanSupplier held) throws LockLostException {
        if (!held.getAsBoolean()) {
            throw new LockLostException("garbage collection lost its lock and stopped; the blobs it had set aside are restored");
        }
    }

    private int removeLinks(Set<Digest> removed) throws IOException {
        int links = 0;
        for (RepositoryName repository : store.metadata().repositories()) {
            for (Digest digest : store.metadata().blobs(repository)) {
                if ((removed.contains(digest) || !store.blobs().exists(digest)) && store.metadata().unlinkBlob(repository, digest)) {
                    links++;
                }
            }
        }
        return links;
    }

    private Set<Digest> mark() throws IOException {
        return References.heldBy(store, repository -> true, false);
    }
}
