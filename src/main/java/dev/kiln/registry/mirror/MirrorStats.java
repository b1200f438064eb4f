package dev.kiln.registry.mirror;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** Counters per upstream, read by the metrics endpoint; plain Java so the mirror stays framework-free. */
public final class MirrorStats {
    public enum Counter { HITS, MISSES, BYTES_FROM_CACHE, BYTES_FROM_UPSTREAM, COALESCED, STALE_SERVED, UPSTREAM_REQUESTS, EVICTED_BLOBS, EVICTED_BYTES }

    private final Map<String, Map<Counter, LongAdder>> counters = new ConcurrentHashMap<>();
    private final Map<String, Map<String, LongAdder>> errors = new ConcurrentHashMap<>();

    public void add(String upstream, Counter counter, long amount) {
        counters.computeIfAbsent(upstream, u -> new ConcurrentHashMap<>())
                .computeIfAbsent(counter, c -> new LongAdder()).add(amount);
    }

    public void increment(String upstream, Counter counter) {
        add(upstream, counter, 1);
    }

    /** One completed upstream fetch of a blob or manifest, for a latency histogram. */
    public interface FetchListener {
        void fetched(String upstream, String kind, long bytes, java.time.Duration took);
    }

    private volatile FetchListener fetchListener = (upstream, kind, bytes, took) -> { };

    public void onFetch(FetchListener listener) {
        this.fetchListener = listener;
    }

    public void fetched(String upstream, String kind, long bytes, java.time.Duration took) {
        fetchListener.fetched(upstream, kind, bytes, took);
    }

    private volatile java.util.function.BiConsumer<String, String> newErrorCode = (upstream, code) -> { };

    /** Called once for each (upstream, error code) pair when it first occurs, so metrics can follow. */
    public void onNewErrorCode(java.util.function.BiConsumer<String, String> listener) {
        this.newErrorCode = listener;
    }

    public void error(String upstream, String code) {
        boolean[] isNew = {false};
        errors.computeIfAbsent(upstream, u -> new ConcurrentHashMap<>()).computeIfAbsent(code, c -> {
            isNew[0] = true;
            return new LongAdder();
        }).increment();
        if (isNew[0]) {
            newErrorCode.accept(upstream, code);
        }
    }

    public long get(String upstream, Counter counter) {
        LongAdder adder = counters.getOrDefault(upstream, Map.of()).get(counter);
        return adder == null ? 0 : adder.sum();
    }

    public Map<String, Long> errors(String upstream) {
        Map<String, Long> result = new java.util.TreeMap<>();
        errors.getOrDefault(upstream, Map.of()).forEach((code, adder) -> result.put(code, adder.sum()));
        return result;
    }

    /** Manifest requests per image, for "top images"; new names stop being counted past this many. */
    static final int MAX_IMAGES = 1000;
    private final Map<String, LongAdder> images = new ConcurrentHashMap<>();

    /** One manifest request for {@code image} ({@code upstream/repository}). */
    public void imageRequested(String image) {
        LongAdder adder = images.get(image);
        if (adder == null) {
            if (images.size() >= MAX_IMAGES) {
                return; // a bounded map: a client walking random names cannot grow it without end
            }
            adder = images.computeIfAbsent(image, i -> new LongAdder());
        }
        adder.increment();
    }

    /** The {@code limit} images with the most manifest requests, most first. */
    public java.util.List<Map.Entry<String, Long>> topImages(int limit) {
        return images.entrySet().stream()
                .map(e -> Map.entry(e.getKey(), e.getValue().sum()))
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
                .limit(limit)
                .toList();
    }
}
