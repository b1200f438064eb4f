package dev.kiln.registry.mirror;

import dev.kiln.oci.Digest;
import dev.kiln.oci.RepositoryName;
import dev.kiln.registry.server.NamespacePolicy;
import dev.kiln.store.BlobInfo;
import dev.kiln.store.ReadLeases;
import dev.kiln.store.References;
import dev.kiln.store.Store;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Logger;

/**
 * Keeps the store under {@code --cache-max-bytes} by evicting mirrored content, least recently pulled
 * first. Never evicts what a local repository holds or what a download is reading right now.
 */
public final class CacheBudget {
    private static final Logger LOG = Logger.getLogger(CacheBudget.class.getName());
    private static final Duration MIN_INTERVAL = Duration.ofSeconds(5);

    private final Store store;
    private final NamespacePolicy namespaces;
    private final ReadLeases leases;
    private final long maxBytes;
    private final MirrorStats stats;
    private final Clock clock;
    private final AtomicReference<Instant> lastRun = new AtomicReference<>(Instant.EPOCH);
    private final AtomicBoolean pending = new AtomicBoolean();
    private ScheduledExecutorService timer;

    public CacheBudget(Store store, NamespacePolicy namespaces, ReadLeases leases, long maxBytes, MirrorStats stats, Clock clock) {
        this.store = store;
        this.namespaces = namespaces;
        this.leases = leases;
        this.maxBytes = maxBytes;
        this.stats = stats;
        this.clock = clock;
    }

    public record Result(long bytesBefore, long bytesAfter, int evicted) {
    }

    /**
     * Enforces the budget soon, on a background thread, for calling after every fetch: at once when the
     * last run was long enough ago, else once the interval is over. A burst of fetches thus costs one
     * run, and the last fetch of a burst is never left over budget.
     */
    public void enforceSoon() {
        if (maxBytes <= 0 || !pending.compareAndSet(false, true)) {
            return;
        }
        long wait = Math.max(0, Duration.between(clock.instant(), lastRun.get().plus(MIN_INTERVAL)).toMillis());
        timer().schedule(() -> {
            pending.set(false); // fetches that finish while this run walks the store ask for another
            lastRun.set(clock.instant());
            try {
                enforce();
            } catch (IOException | RuntimeException e) {
                LOG.warning("enforcing the cache budget failed: " + e.getMessage());
            }
        }, wait, TimeUnit.MILLISECONDS);
    }

    private synchronized ScheduledExecutorService timer() {
        if (timer == null) {
            timer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread thread = new Thread(r, "kiln-cache-budget");
                thread.setDaemon(true);
                return thread;
            });
        }
        return timer;
    }

    public synchronized Result enforce() throws IOException {
        List<BlobInfo> blobs = new ArrayList<>();
        try {
            store.blobs().forEach(blobs::add);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        long total = blobs.stream().mapToLong(BlobInfo::size).sum();
        if (maxBytes <= 0 || total <= maxBytes) {
            return new Result(total, total, 0);
        }
        Set<Digest> heldLocally = References.heldBy(store, namespaces::isLocal, true);
        long target = maxBytes - maxBytes / 10; // leave headroom so the next pull does not evict again at once
        blobs.sort((a, b) -> a.lastModified().compareTo(b.lastModified()));
        Set<Digest> evicted = new HashSet<>();
        long after = total;
        for (BlobInfo blob : blobs) {
            if (after <= target) {
                break;
            }
            if (heldLocally.contains(blob.digest()) || leases.isRead(blob.digest())) {
                continue;
            }
            if (store.blobs().delete(blob.digest())) {
                after -= blob.size();
                evicted.add(blob.digest());
            }
        }
        for (RepositoryName repository : store.metadata().repositories()) {
            if (namespaces.isLocal(repository)) {
                continue;
            }
            for (Digest digest : store.metadata().blobs(repository)) {
                if (evicted.contains(digest)) {
                    store.metadata().unlinkBlob(repository, digest);
                }
            }
            for (Digest digest : store.metadata().manifests(repository)) {
                if (evicted.contains(digest)) {
                    store.metadata().unlinkManifest(repository, digest);
                }
            }
        }
        if (!evicted.isEmpty()) {
            stats.add("all", MirrorStats.Counter.EVICTED_BLOBS, evicted.size());
            stats.add("all", MirrorStats.Counter.EVICTED_BYTES, total - after);
            LOG.info("cache budget " + maxBytes + " bytes: evicted " + evicted.size() + " blobs, " + (total - after) + " bytes");
        }
        return new Result(total, after, evicted.size());
    }
}
