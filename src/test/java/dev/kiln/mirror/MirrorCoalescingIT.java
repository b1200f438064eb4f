package dev.kiln.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.testkit.FaultProxy;
import dev.kiln.testkit.OciLayout.Content;
import dev.kiln.testkit.OciLayout.Image;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.Http;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.OciLayout;
import dev.kiln.testkit.Skopeo;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Many clients, one upstream fetch per digest; a large blob streams to clients while it is still arriving. */
@Timeout(120)
class MirrorCoalescingIT {
    static final int CLIENTS = 20;
    static final int LARGE = 64 << 20;

    @TempDir
    static Path tmp;
    static Skopeo skopeo;

    static DockerRegistry upstream;
    static FaultProxy proxy;
    static KilnProcess kiln;
    static Image small;
    static Image large;

    @BeforeAll
    static void start() throws IOException {
        skopeo = new Skopeo(tmp.resolve("skopeo"));
        OciLayout layout = new OciLayout(tmp.resolve("layout"));
        small = layout.image("small", Content.of("coalesce-small").filler(1 << 20));
        large = layout.image("large", Content.of("coalesce-large").withoutBusybox().filler(LARGE));
        upstream = DockerRegistry.start(tmp.resolve("upstream"));
        skopeo.push(layout.ref("small"), upstream.host() + "/coalesce/small:1");
        skopeo.push(layout.ref("large"), upstream.host() + "/coalesce/large:1");
        proxy = new FaultProxy(upstream.port());
        kiln = KilnProcess.configure("mirror-coalescing", tmp.resolve("kiln").resolve("store")).jvmOptions("-Xmx512m")
                .args("--upstream", "c=" + proxy.url()).start();
    }

    @AfterAll
    static void stop() {
        if (kiln != null) {
            kiln.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    void twentyColdPullsFetchEachDigestOnce() throws Exception {
        proxy.throttle(2 << 20, 300); // slow enough that every client asks while the first fetch runs
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
        List<Future<List<String>>> pulls = new ArrayList<>();
        try {
            CountDownLatch go = new CountDownLatch(1);
            for (int i = 0; i < CLIENTS; i++) {
                pulls.add(pool.submit(() -> {
                    go.await();
                    return pull("/v2/c/coalesce/small", "1");
                }));
            }
            go.countDown();
            for (Future<List<String>> pull : pulls) {
                assertEquals(List.of(small.digest(), small.config().digest(), small.layers().get(0).digest()), pull.get());
            }
        } finally {
            pool.shutdownNow();
            proxy.clear();
        }
        for (OciLayout.Blob blob : small.blobs()) {
            assertEquals(1, upstream.blobGets(blob.digest()), "one upstream GET of " + blob.digest() + " for " + CLIENTS + " clients");
        }
        assertEquals(1, upstream.count("GET", "/v2/coalesce/small/manifests/1"), "one upstream GET of the tag for " + CLIENTS + " clients");

        double misses = kiln.metric("kiln_mirror_misses_total", "upstream=c");
        double hits = kiln.metric("kiln_mirror_hits_total", "upstream=c");
        double coalesced = kiln.metric("kiln_mirror_coalesced_total", "upstream=c");
        assertEquals(3, misses, "the manifest, the config and the layer were each fetched once");
        assertEquals(3 * CLIENTS, misses + hits + coalesced, "every request counted once");
        assertTrue(coalesced >= CLIENTS, coalesced + " requests waited on another's fetch");
        assertEquals(small.config().size() + small.layers().get(0).size(), kiln.metric("kiln_mirror_bytes_from_upstream_total", "upstream=c"));
        assertEquals(0, kiln.metric("kiln_mirror_upstream_errors_total", "upstream=c"));
    }

    @Test
    void aLargeBlobStreamsWhileItIsStillArriving() throws Exception {
        OciLayout.Blob layer = large.layers().get(0);
        String url = kiln.baseUrl() + "/v2/c/coalesce/large/blobs/" + layer.digest();
        proxy.throttle(32 << 20, 0); // two seconds upstream
        try {
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                CountDownLatch firstHalf = new CountDownLatch(1);
                long start = System.nanoTime();
                Future<Timed> first = pool.submit(() -> timedGet(url, firstHalf, LARGE / 4));
                while (!firstHalf.await(100, TimeUnit.MILLISECONDS)) {
                    if (first.isDone()) {
                        first.get(); // throws what went wrong
                        throw new AssertionError("the first client finished before a quarter of the blob");
                    }
                }
                Future<Timed> late = pool.submit(() -> timedGet(url, null, 0));
                Timed a = first.get();
                Timed b = late.get();
                assertEquals(layer.digest(), a.digest());
                assertEquals(layer.digest(), b.digest(), "a client that joins midway still gets the whole blob");
                assertEquals(layer.size(), a.bytes());

                FaultProxy.Exchange fetch = proxy.exchanges().stream().filter(e -> e.path().endsWith(layer.digest())).findFirst().orElseThrow();
                assertEquals(1, proxy.count("GET", p -> p.endsWith(layer.digest())), "the late client joined the running fetch");
                assertTrue(a.firstByteNanos() < fetch.endNanos(), "the first bytes reached the client before the upstream had sent them all");
                assertTrue(b.firstByteNanos() < fetch.endNanos(), "so did the late client's");
                long ttfb = a.firstByteNanos() - start;
                long total = a.endNanos() - start;
                assertTrue(ttfb < total / 4, "time to first byte " + ttfb / 1_000_000 + " ms of " + total / 1_000_000 + " ms");
            } finally {
                pool.shutdownNow();
            }
        } finally {
            proxy.clear();
        }
        long before = upstream.requests().size();
        assertEquals(layer.digest(), Http.get(url).digest());
        assertEquals(before, upstream.requests().size(), "then it is served from the store");
    }

    record Timed(String digest, long bytes, long firstByteNanos, long endNanos) {
    }

    /** Streams a GET, noting when its first byte came; counts {@code reached} down after {@code after} bytes. */
    static Timed timedGet(String url, CountDownLatch reached, long after) throws Exception {
        HttpResponse<InputStream> response = Http.client().send(HttpRequest.newBuilder(URI.create(url)).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, response.statusCode());
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        long first = 0;
        long bytes = 0;
        byte[] buffer = new byte[64 * 1024];
        try (InputStream in = response.body()) {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                if (first == 0 && n > 0) {
                    first = System.nanoTime();
                }
                sha.update(buffer, 0, n);
                bytes += n;
                if (reached != null && bytes >= after) {
                    reached.countDown();
                }
            }
        }
        return new Timed("sha256:" + HexFormat.of().formatHex(sha.digest()), bytes, first, System.nanoTime());
    }

    /** A client's pull: the manifest by tag, then every blob it names; returns the digests it verified. */
    List<String> pull(String repository, String tag) throws IOException {
        Http.Response manifest = Http.get(kiln.baseUrl() + repository + "/manifests/" + tag, "Accept", Http.ACCEPT_ALL);
        assertEquals(200, manifest.status());
        List<String> verified = new ArrayList<>(List.of(manifest.digest()));
        JsonNode json = manifest.json();
        List<JsonNode> descriptors = new ArrayList<>(List.of(json.get("config")));
        json.get("layers").forEach(descriptors::add);
        for (JsonNode descriptor : descriptors) {
            Http.Response blob = Http.get(kiln.baseUrl() + repository + "/blobs/" + descriptor.get("digest").asText());
            assertEquals(200, blob.status());
            assertEquals(descriptor.get("digest").asText(), blob.digest(), "right bytes for " + descriptor);
            verified.add(blob.digest());
        }
        return verified;
    }
}
