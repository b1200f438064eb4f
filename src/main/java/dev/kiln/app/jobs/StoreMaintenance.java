package dev.kiln.app.jobs;

import dev.kiln.app.config.KilnConfig;
import dev.kiln.store.GarbageCollector;
import dev.kiln.store.Store;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.jboss.logging.Logger;

/** Online store upkeep: expired uploads, temp files of dead writers, and periodic garbage collection. */
@ApplicationScoped
public class StoreMaintenance {
    private static final Logger LOG = Logger.getLogger(StoreMaintenance.class);

    @Inject
    Store store;

    @Inject
    KilnConfig config;

    @Inject
    dev.kiln.app.wiring.StoreMetrics metrics;

    void onStart(@Observes StartupEvent event) throws IOException {
        LOG.infof("store at %s; local namespaces %s", store.root(), config.localNamespaces());
        removeStaleFiles();
    }

    @Scheduled(every = "10m", delay = 10, delayUnit = java.util.concurrent.TimeUnit.MINUTES,
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void removeStaleFiles() throws IOException {
        int uploads = store.uploads().expire(Instant.now().minus(config.uploads().ttl()));
        int temps = store.blobs().removeStaleTempFiles(Duration.ofHours(6));
        if (uploads + temps > 0) {
            LOG.infof("removed %d expired uploads and %d stale temp files", uploads, temps);
        }
    }

    @Scheduled(every = "${kiln.gc.interval:24h}", delayed = "${kiln.gc.interval:24h}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void collectGarbage() throws IOException {
        long start = System.nanoTime();
        GarbageCollector.Report report = new GarbageCollector(store, config.gc().grace(), Clock.systemUTC()).run(config.uploads().ttl());
        metrics.collected(report, Duration.ofNanos(System.nanoTime() - start));
        LOG.infof("gc: removed %d blobs (%d bytes), kept %d", report.blobsRemoved(), report.bytesRemoved(), report.blobsKept());
    }
}
