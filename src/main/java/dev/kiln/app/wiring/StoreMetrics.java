package dev.kiln.app.wiring;

import dev.kiln.app.config.ByteSizes;
import dev.kiln.app.config.KilnConfig;
import dev.kiln.store.GarbageCollector;
import dev.kiln.store.Store;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.atomic.LongAdder;
import org.jboss.logging.Logger;

/**
 * The store on /q/metrics ({@code kiln_store_*}). Its size is a walk over the blobs, so a scrape
 * reuses a walk younger than {@link #MAX_AGE} instead of walking the store every time.
 */
@ApplicationScoped
public class StoreMetrics {
    private static final Logger LOG = Logger.getLogger(StoreMetrics.class);
    static final Duration MAX_AGE = Duration.ofSeconds(10);

    @Inject
    MeterRegistry registry;

    @Inject
    Store store;

    @Inject
    KilnConfig config;

    private record Usage(long bytes, long blobs, long takenNanos) {
    }

    private volatile Usage usage;
    private volatile LastGc lastGc;
    private volatile long budget;

    /** The last garbage collection run of this gateway: when it ended, how long it took, what it removed. */
    public record LastGc(java.time.Instant at, Duration took, GarbageCollector.Report report) {
    }

    void register(@Observes StartupEvent event) {
        Gauge.builder("kiln.store.used", this, m -> m.usage().bytes()).baseUnit("bytes")
                .description("Bytes of blobs in the store (refreshed at most every 10 s)").register(registry);
        Gauge.builder("kiln.store.blobs", this, m -> m.usage().blobs())
                .description("Blobs in the store (refreshed at most every 10 s)").register(registry);
        budget = ByteSizes.parse(config.mirror().cacheMaxBytes());
        Gauge.builder("kiln.store.budget", () -> budget).baseUnit("bytes")
                .description("The store's size budget for mirrored blobs (kiln.mirror.cache-max-bytes); 0 when unlimited")
                .register(registry);
        gcRuns().increment(0);
        gcFreed().increment(0);
        gcDuration();
    }

    public long usedBytes() {
        return usage().bytes();
    }

    public long blobs() {
        return usage().blobs();
    }

    /** {@code kiln.mirror.cache-max-bytes}; 0 when unlimited. */
    public long budgetBytes() {
        return budget;
    }

    /** Null until this gateway has collected once. */
    public LastGc lastGc() {
        return lastGc;
    }

    private synchronized Usage usage() {
        Usage last = usage;
        if (last != null && System.nanoTime() - last.takenNanos() < MAX_AGE.toNanos()) {
            return last;
        }
        LongAdder bytes = new LongAdder();
        LongAdder blobs = new LongAdder();
        try {
            store.blobs().forEach(blob -> {
                bytes.add(blob.size());
                blobs.increment();
            });
        } catch (IOException | RuntimeException e) {
            LOG.warnf("cannot measure the store for /q/metrics: %s", e.getMessage());
            return last != null ? last : new Usage(0, 0, System.nanoTime());
        }
        usage = new Usage(bytes.sum(), blobs.sum(), System.nanoTime());
        return usage;
    }

    /** Counts a garbage collection run of this gateway. */
    public void collected(GarbageCollector.Report report, Duration took) {
        gcRuns().increment();
        gcFreed().increment(report.bytesRemoved());
        gcDuration().record(took);
        lastGc = new LastGc(java.time.Instant.now(), took, report);
        usage = null; // the next scrape sees what the run freed
    }

    private Timer gcDuration() {
        return Timer.builder("kiln.store.gc.duration").description("Time a garbage collection run took").register(registry);
    }

    private Counter gcRuns() {
        return Counter.builder("kiln.store.gc.runs").description("Garbage collection runs of this gateway").register(registry);
    }

    private Counter gcFreed() {
        return Counter.builder("kiln.store.gc.freed").baseUnit("bytes")
                .description("Bytes of blobs garbage collection removed").register(registry);
    }
}
