package dev.kiln.app.wiring;

import dev.kiln.registry.mirror.MirrorStats;
import dev.kiln.registry.mirror.UpstreamRouter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.Locale;
import java.util.Map;

/** Publishes the mirror's counters on /q/metrics as {@code kiln_mirror_*{upstream="…"}}, each with its HELP text. */
@ApplicationScoped
public class MirrorMetrics {
    private static final Map<MirrorStats.Counter, String> HELP = Map.of(
            MirrorStats.Counter.HITS, "Manifest and blob requests answered from the store without fetching",
            MirrorStats.Counter.MISSES, "Manifest and blob requests that had to be fetched from the upstream",
            MirrorStats.Counter.BYTES_FROM_CACHE, "Blob bytes served from the store (see kiln_mirror_bytes_total)",
            MirrorStats.Counter.BYTES_FROM_UPSTREAM, "Blob bytes fetched from the upstream (see kiln_mirror_bytes_total)",
            MirrorStats.Counter.COALESCED, "Requests that joined a fetch already under way instead of asking the upstream again",
            MirrorStats.Counter.STALE_SERVED, "Tags served from the store because the upstream failed",
            MirrorStats.Counter.UPSTREAM_REQUESTS, "HTTP requests sent to the upstream");

    @Inject
    MeterRegistry registry;

    @Inject
    MirrorStats stats;

    @Inject
    UpstreamRouter router;

    void register(@Observes StartupEvent event) {
        for (String upstream : router.upstreams().keySet()) {
            for (Map.Entry<MirrorStats.Counter, String> counter : HELP.entrySet()) {
                FunctionCounter.builder("kiln.mirror." + counter.getKey().name().toLowerCase(Locale.ROOT), stats,
                                s -> s.get(upstream, counter.getKey()))
                        .description(counter.getValue())
                        .tag("upstream", upstream)
                        .register(registry);
            }
            fetchDuration(upstream, "blob"); // published before the first fetch, so alerts on it can be checked
            fetchDuration(upstream, "manifest");
            bytes(upstream, "cache", MirrorStats.Counter.BYTES_FROM_CACHE);
            bytes(upstream, "upstream", MirrorStats.Counter.BYTES_FROM_UPSTREAM);
        }
        stats.onNewErrorCode(this::registerErrorCode);
        stats.onFetch((upstream, kind, bytes, took) -> fetchDuration(upstream, kind).record(took));
        FunctionCounter.builder("kiln.mirror.evicted.blobs", stats, s -> s.get("all", MirrorStats.Counter.EVICTED_BLOBS))
                .description("Mirrored blobs deleted to keep the store under kiln.mirror.cache-max-bytes").register(registry);
        FunctionCounter.builder("kiln.mirror.evicted.bytes", stats, s -> s.get("all", MirrorStats.Counter.EVICTED_BYTES))
                .description("Bytes of mirrored blobs deleted to keep the store under kiln.mirror.cache-max-bytes").register(registry);
    }

    private Timer fetchDuration(String upstream, String kind) {
        return Timer.builder("kiln.mirror.fetch.duration")
                .description("Time to fetch one blob or manifest from the upstream, until it was verified and stored")
                .tag("upstream", upstream).tag("kind", kind)
                .publishPercentileHistogram()
                .register(registry);
    }

    /** One metric with a source label, so cache and upstream bytes sum and divide in one query. */
    private void bytes(String upstream, String source, MirrorStats.Counter counter) {
        FunctionCounter.builder("kiln.mirror.bytes", stats, s -> s.get(upstream, counter))
                .description("Blob bytes sent to clients by the mirror, by where they came from (source=cache|upstream)")
                .baseUnit("bytes")
                .tag("upstream", upstream).tag("source", source)
                .register(registry);
    }

    private void registerErrorCode(String upstream, String code) {
        FunctionCounter.builder("kiln.mirror.upstream.errors", stats, s -> s.errors(upstream).getOrDefault(code, 0L))
                .description("Failed upstream requests, by OCI error code or IO_ERROR")
                .tag("upstream", upstream).tag("code", code)
                .register(registry);
    }
}
