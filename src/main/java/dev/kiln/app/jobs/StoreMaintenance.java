package dev.kiln.app.jobs;

import dev.kiln.app.config.KilnConfig;
import dev.kiln.app.kubernetes.LeaseLock;
import dev.kiln.store.GarbageCollector;
import dev.kiln.store.HeldLock;
import dev.kiln.store.Store;
import dev.kiln.store.StoreLock;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Online store upkeep: expired uploads, temp files of dead writers, and periodic garbage collection,
 * which runs on one replica at a time: the one that holds the GC lock (see {@link #gcLock}).
 */
@ApplicationScoped
public class StoreMaintenance {
    private static final Logger LOG = Logger.getLogger(StoreMaintenance.class);
    static final String LOCK_NAME = "gc";

    @Inject
    Store store;

    @Inject
    KilnConfig config;

    @Inject
    dev.kiln.app.wiring.StoreMetrics metrics;

    @Inject
    Instance<KubernetesClient> kubernetes;

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
        StoreLock lock = gcLock();
        String holder = holder();
        Optional<HeldLock> held = HeldLock.take(lock, holder, config.gc().lockTtl(), Clock.systemUTC());
        if (held.isEmpty()) {
            LOG.infof("gc: skipped, another replica holds %s", lock.describe());
            return;
        }
        try (HeldLock h = held.get()) {
            long start = System.nanoTime();
            GarbageCollector.Report report = new GarbageCollector(store, config.gc().grace(), Clock.systemUTC())
                    .run(config.uploads().ttl(), h);
            metrics.collected(report, Duration.ofNanos(System.nanoTime() - start));
            LOG.infof("gc (%s): removed %d blobs (%d bytes), kept %d", holder, report.blobsRemoved(), report.bytesRemoved(),
                    report.blobsKept());
        } catch (GarbageCollector.LockLostException e) {
            LOG.warnf("gc (%s): %s", holder, e.getMessage());
        }
    }

    /**
     * The store's own lock always (so {@code kiln gc} run by hand waits its turn too); inside a pod,
     * first the Lease, which Kubernetes shows and which any kubectl can inspect.
     */
    StoreLock gcLock() {
        StoreLock own = store.locks().named(LOCK_NAME);
        String mode = config.gc().lock();
        boolean lease = switch (mode) {
            case "lease" -> true;
            case "store" -> false;
            case "auto" -> System.getenv("KUBERNETES_SERVICE_HOST") != null;
            default -> throw new IllegalArgumentException("kiln.gc.lock must be auto, lease or store, not " + mode);
        };
        if (!lease) {
            return own;
        }
        KubernetesClient client = kubernetes.get();
        String namespace = client.getNamespace() == null ? "default" : client.getNamespace();
        return HeldLock.both(new LeaseLock(client, namespace, config.gc().leaseName(), Clock.systemUTC()), own);
    }

    /** The pod's name in Kubernetes (its hostname), else host and process. */
    static String holder() {
        String host = Optional.ofNullable(System.getenv("HOSTNAME")).filter(h -> !h.isBlank()).orElseGet(() -> {
            try {
                return java.net.InetAddress.getLocalHost().getHostName();
            } catch (java.net.UnknownHostException e) {
                return "unknown-host";
            }
        });
        return System.getenv("KUBERNETES_SERVICE_HOST") != null ? host : host + "-" + ProcessHandle.current().pid();
    }
}
