package dev.kiln.app.wiring;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.builder.gateway.BuildRecord;
import dev.kiln.builder.gateway.BuildService;
import dev.kiln.registry.mirror.MirrorStats;
import dev.kiln.registry.mirror.MirrorStats.Counter;
import dev.kiln.registry.mirror.UpstreamRouter;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * What the dashboard shows, as one JSON document ({@code GET /api/v1/summary}): the mirror per
 * upstream with its hit ratio over the last hour, the store against its budget and its last garbage
 * collection, and the builds the caller may see. The mirror's counters are sampled every 10 s into a
 * ring, so the hit ratio over time is there as soon as the page opens.
 */
@ApplicationScoped
public class DashboardSummary {
    static final int HISTORY = 360;
    static final int RECENT_BUILDS = 50;
    static final int TOP_IMAGES = 10;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Inject
    MirrorStats stats;

    @Inject
    UpstreamRouter router;

    @Inject
    StoreMetrics store;

    @Inject
    BuildService builds;

    /** Totals over every upstream at one moment. */
    record Sample(Instant at, long hits, long misses, long bytesFromCache, long bytesFromUpstream) {
    }

    private final ArrayDeque<Sample> history = new ArrayDeque<>();

    @Scheduled(every = "10s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void sample() {
        Sample now = now();
        synchronized (history) {
            if (history.size() == HISTORY) {
                history.removeFirst();
            }
            history.addLast(now);
        }
    }

    private Sample now() {
        long hits = 0;
        long misses = 0;
        long fromCache = 0;
        long fromUpstream = 0;
        for (String upstream : router.upstreams().keySet()) {
            hits += stats.get(upstream, Counter.HITS);
            misses += stats.get(upstream, Counter.MISSES);
            fromCache += stats.get(upstream, Counter.BYTES_FROM_CACHE);
            fromUpstream += stats.get(upstream, Counter.BYTES_FROM_UPSTREAM);
        }
        return new Sample(Instant.now(), hits, misses, fromCache, fromUpstream);
    }

    /** @param visible which builds the caller may see (their own; all for an admin or without users) */
    public ObjectNode summary(Predicate<BuildRecord> visible) {
        ObjectNode root = JSON.createObjectNode();
        root.put("generatedAt", Instant.now().toString());
        root.set("mirror", mirror());
        root.set("store", store());
        root.set("builds", builds(visible));
        return root;
    }

    private ObjectNode mirror() {
        ObjectNode mirror = JSON.createObjectNode();
        ArrayNode upstreams = mirror.putArray("upstreams");
        for (String name : new java.util.TreeSet<>(router.upstreams().keySet())) {
            ObjectNode u = upstreams.addObject().put("name", name);
            u.put("hits", stats.get(name, Counter.HITS));
            u.put("misses", stats.get(name, Counter.MISSES));
            u.put("bytesFromCache", stats.get(name, Counter.BYTES_FROM_CACHE));
            u.put("bytesFromUpstream", stats.get(name, Counter.BYTES_FROM_UPSTREAM));
            u.put("coalesced", stats.get(name, Counter.COALESCED));
            u.put("staleServed", stats.get(name, Counter.STALE_SERVED));
            u.put("upstreamRequests", stats.get(name, Counter.UPSTREAM_REQUESTS));
            ObjectNode errors = u.putObject("errors");
            stats.errors(name).forEach(errors::put);
        }
        ArrayNode top = mirror.putArray("topImages");
        for (Map.Entry<String, Long> image : stats.topImages(TOP_IMAGES)) {
            top.addObject().put("image", image.getKey()).put("manifestRequests", image.getValue());
        }
        List<Sample> samples;
        synchronized (history) {
            samples = new ArrayList<>(history);
        }
        samples.add(now()); // the chart ends now, whatever the sampling interval
        ArrayNode points = mirror.putArray("history");
        for (Sample s : samples) {
            points.addObject().put("at", s.at().toString()).put("hits", s.hits()).put("misses", s.misses())
                    .put("bytesFromCache", s.bytesFromCache()).put("bytesFromUpstream", s.bytesFromUpstream());
        }
        return mirror;
    }

    private ObjectNode store() {
        ObjectNode node = JSON.createObjectNode();
        node.put("usedBytes", store.usedBytes());
        node.put("budgetBytes", store.budgetBytes());
        node.put("blobs", store.blobs());
        StoreMetrics.LastGc gc = store.lastGc();
        if (gc == null) {
            node.putNull("lastGc");
        } else {
            node.putObject("lastGc").put("at", gc.at().toString()).put("durationMillis", gc.took().toMillis())
                    .put("blobsRemoved", gc.report().blobsRemoved()).put("bytesRemoved", gc.report().bytesRemoved())
                    .put("blobsKept", gc.report().blobsKept());
        }
        return node;
    }

    private ObjectNode builds(Predicate<BuildRecord> visible) {
        ObjectNode node = JSON.createObjectNode();
        node.put("queued", builds.queued());
        node.put("running", builds.running());
        List<BuildRecord> mine = builds.list(null).stream().filter(visible)
                .sorted(Comparator.comparing(BuildRecord::createdAt, Comparator.nullsLast(Comparator.reverseOrder())))
                .toList();
        long hits = 0;
        long misses = 0;
        long notUploaded = 0;
        ArrayNode recent = node.putArray("recent");
        for (BuildRecord record : mine) {
            long cached = record.steps().stream().filter(BuildRecord.Step::cached).count();
            long ran = record.spec().cache() ? record.steps().stream().filter(s -> !s.cached() && layerStep(s)).count() : 0;
            hits += cached;
            misses += ran;
            long saved = record.report() == null ? 0 : record.report().bytesNotUploaded();
            notUploaded += saved;
            if (recent.size() >= RECENT_BUILDS) {
                continue;
            }
            ObjectNode b = recent.addObject().put("id", record.id()).put("state", record.state().wireName());
            b.put("createdAt", text(record.createdAt())).put("startedAt", text(record.startedAt()))
                    .put("finishedAt", text(record.finishedAt()));
            if (record.startedAt() != null) {
                Instant end = record.finishedAt() != null ? record.finishedAt() : Instant.now();
                b.put("durationMillis", Duration.between(record.startedAt(), end).toMillis());
            } else {
                b.putNull("durationMillis");
            }
            int position = builds.queuePosition(record.id());
            if (position > 0) {
                b.put("queuePosition", position);
            } else {
                b.putNull("queuePosition");
            }
            b.put("steps", record.steps().size()).put("cachedSteps", cached).put("bytesNotUploaded", saved);
            b.set("destinations", JSON.valueToTree(record.spec().destinations()));
            b.put("error", record.error());
        }
        node.putObject("cachedSteps").put("hit", hits).put("miss", misses);
        node.put("bytesNotUploaded", notUploaded);
        return node;
    }

    /** FROM and metadata steps have no layer to cache, as in kiln_builds_cached_steps_total. */
    private static boolean layerStep(BuildRecord.Step step) {
        return BuildMetrics.LAYER_STEP.matcher(step.instruction()).lookingAt();
    }

    private static String text(Instant instant) {
        return instant == null ? null : instant.toString();
    }
}
