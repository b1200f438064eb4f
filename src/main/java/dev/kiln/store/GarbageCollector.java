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

/**
 * Online mark and sweep: a blob survives when a manifest of some repository references it, or when it
 * was written or used within the grace period (an upload whose manifest is still on its way).
 */
public final class GarbageCollector {
    private final Store store;
    private final Duration grace;
    private final Clock clock;

    public GarbageCollector(Store store, Duration grace, Clock clock) {
        this.store = store;
        this.grace = grace;
        this.clock = clock;
    }

    public record Report(int blobsKept, int blobsRemoved, long bytesRemoved, int linksRemoved, int uploadsExpired) {
    }

    public Report run(Duration uploadTtl) throws IOException {
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
        int removed = 0;
        long bytes = 0;
        Set<Digest> removedDigests = new HashSet<>();
        for (BlobInfo candidate : candidates) {
            // Re-check: a push may have touched the blob since the mark phase began.
            var now = store.blobs().stat(candidate.digest());
            if (now.isPresent() && now.get().lastModified().isBefore(cutoff) && store.blobs().delete(candidate.digest())) {
                removed++;
                bytes += candidate.size();
                removedDigests.add(candidate.digest());
            } else {
                kept[0]++;
            }
        }
        int links = 0;
        for (RepositoryName repository : store.metadata().repositories()) {
            for (Digest digest : store.metadata().blobs(repository)) {
                if (removedDigests.contains(digest) || !store.blobs().exists(digest)) {
                    if (store.metadata().unlinkBlob(repository, digest)) {
                        links++;
                    }
                }
            }
        }
        int expired = store.uploads().expire(clock.instant().minus(uploadTtl));
        return new Report(kept[0], removed, bytes, links, expired);
    }

    private Set<Digest> mark() throws IOException {
        return References.heldBy(store, repository -> true, false);
    }
}
