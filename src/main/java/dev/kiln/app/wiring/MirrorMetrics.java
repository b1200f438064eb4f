package dev.kiln.app.wiring;

import dev.kiln.registry.mirror.MirrorStats;
import dev.kiln.registry.mirror.UpstreamRouter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.Locale;

/** Publishes the mirror's counters on /q/metrics as {@code kiln_mirror_*_total{upstream="…"}}. */
@ApplicationScoped
public class MirrorMetrics {
    @Inject
    MeterRegistry registry;

    @Inject
    MirrorStats stats;

    @Inject
    UpstreamRouter router;

    void register(@Observes StartupEvent event) {
        for (String upstream : router.upstreams().keySet()) {
            for (MirrorStats.Counter counter : MirrorStats.Counter.values()) {
                if (counter == MirrorStats.Counter.EVICTED_BLOBS || counter == MirrorStats.Counter.EVICTED_BYTES) {
                    continue;
                }
                FunctionCounter.builder("kiln.mirror." + counter.name().toLowerCase(Locale.ROOT), stats, s -> s.get(upstream, counter))
                        .tag("upstream", upstream)
                        .register(registry);
            }
        }
        stats.onNewErrorCode(this::registerErrorCode);
        FunctionCounter.builder("kiln.mirror.evicted.blobs", stats, s -> s.get("all", MirrorStats.Counter.EVICTED_BLOBS)).register(registry);
        FunctionCounter.builder("kiln.mirror.evicted.bytes", stats, s -> s.get("all", MirrorStats.Counter.EVICTED_BYTES)).register(registry);
    }

    private void registerErrorCode(String upstream, String code) {
        FunctionCounter.builder("kiln.mirror.upstream.errors", stats, s -> s.errors(upstream).getOrDefault(code, 0L))
                .tag("upstream", upstream).tag("code", code)
                .register(registry);
    }
}
