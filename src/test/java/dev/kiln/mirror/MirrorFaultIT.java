package dev.kiln.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.FaultProxy.Mode;
import dev.kiln.testkit.FaultProxy;
import dev.kiln.testkit.OciLayout.Content;
import dev.kiln.testkit.OciLayout.Image;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Http;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.OciLayout;
import dev.kiln.testkit.Poll;
import dev.kiln.testkit.Skopeo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A fault-injecting proxy between Kiln and its upstream. Whatever breaks, a client gets the right bytes
 * or an error, never wrong bytes with success; nothing bad is kept; the next pull after the fault works.
 */
@Timeout(120)
class MirrorFaultIT {
    static final int CLIENTS = 5;

    @TempDir
    static Path tmp;
    static Skopeo skopeo;

    static OciLayout layout;
    static DockerRegistry upstream;
    static FaultProxy proxy;
    static KilnProcess kiln;
    static final Map<Mode, Image> images = new EnumMap<>(Mode.class);
    static Image stale;

    @BeforeAll
    static void start() throws IOException {
        skopeo = new Skopeo(tmp.resolve("skopeo"));
        layout = new OciLayout(tmp.resolve("layout"));
        upstream = DockerRegistry.start(tmp.resolve("upstream"));
        for (Mode mode : Mode.values()) {
            if (mode != Mode.PASS) {
                images.put(mode, layout.image(name(mode), Content.of("fault-" + name(mode)).filler(1 << 20)));
                skopeo.push(layout.ref(name(mode)), upstream.host() + "/fault/" + name(mode) + ":1");
            }
        }
        stale = layout.image("stale", Content.of("fault-stale"));
        skopeo.push(layout.ref("stale"), upstream.host() + "/stale/app:1");
        skopeo.push(layout.ref("stale"), upstream.host() + "/stale/app:never-pulled");
        proxy = new FaultProxy(upstream.port());
        kiln = KilnProcess.configure("mirror-fault", tmp.resolve("kiln").resolve("store")).jvmOptions("-Xmx512m")
                .systemProperties(List.of("kiln.mirror.upstreams.\"x\".read-timeout=2s"))
                .args("--upstream", "x=" + proxy.url(), "--tag-ttl", "1s").start();
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

    @AfterEach
    void clearFaults() throws IOException {
        proxy.clear();
        proxy.start();
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"TRUNCATE", "CORRUPT", "TOO_MANY_REQUESTS", "UNAVAILABLE", "STALL", "RESET"})
    void aBrokenBlobDownloadFailsEveryClientAndKeepsNothing(Mode mode) throws Exception {
        OciLayout.Blob layer = images.get(mode).layers().get(0);
        String url = kiln.baseUrl() + "/v2/x/fault/" + name(mode) + "/blobs/" + layer.digest();
        double errorsBefore = kiln.metric("kiln_mirror_upstream_errors_total", "upstream=x");
        String code = switch (mode) {
            case TOO_MANY_REQUESTS -> "TOOMANYREQUESTS";
            case UNAVAILABLE -> "UNAVAILABLE";
            case CORRUPT -> "DIGEST_MISMATCH";
            default -> null; // how a broken-off body is labelled depends on where it broke
        };
        double codeBefore = code == null ? 0 : kiln.metric("kiln_mirror_upstream_errors_total", "upstream=x", "code=" + code);
        proxy.fault(mode, path -> path.endsWith(layer.digest()));

        List<Object> outcomes = concurrentGets(url, CLIENTS);
        for (Object outcome : outcomes) {
            if (outcome instanceof Http.Response response && response.status() == 200) {
                assertEquals(layer.digest(), response.digest(), mode + ": a successful answer must carry the right bytes");
            }
        }
        long succeeded = outcomes.stream().filter(o -> o instanceof Http.Response r && r.status() == 200).count();
        assertEquals(0, succeeded, mode + ": the upstream never sent the blob intact, so no client may succeed: " + outcomes);
        if (mode == Mode.TOO_MANY_REQUESTS || mode == Mode.UNAVAILABLE) {
            for (Object outcome : outcomes) {
                Http.Response response = (Http.Response) outcome;
                assertEquals(mode == Mode.TOO_MANY_REQUESTS ? 429 : 502, response.status());
                assertEquals(mode == Mode.TOO_MANY_REQUESTS ? "TOOMANYREQUESTS" : "UNAVAILABLE", response.errorCode());
                if (mode == Mode.TOO_MANY_REQUESTS) {
                    assertEquals(FaultProxy.RETRY_AFTER, response.header("Retry-After"), "the upstream's Retry-After reaches the client");
                }
            }
        }

        long fetches = proxy.count("GET", path -> path.endsWith(layer.digest()));
        assertTrue(fetches >= 1 && fetches <= CLIENTS, fetches + " upstream GETs");
        assertEquals(fetches, kiln.metric("kiln_mirror_upstream_errors_total", "upstream=x") - errorsBefore, 0.0,
                "one upstream error counted per failed upstream request");
        if (code != null) {
            assertEquals(fetches, kiln.metric("kiln_mirror_upstream_errors_total", "upstream=x", "code=" + code) - codeBefore, 0.0,
                    "counted under code " + code);
        }
        assertNothingStored(layer.digest());

        proxy.clear();
        Http.Response after = Http.get(url);
        assertEquals(200, after.status());
        assertEquals(layer.digest(), after.digest());
        // the client gets the verified last byte while the store still syncs and renames the blob
        assertTrue(Poll.until(Duration.ofSeconds(10), () -> Files.exists(kiln.blobFile(layer.digest()))),
                "the intact blob was not kept: " + kiln.logTail());
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"CORRUPT", "TRUNCATE", "RESET"})
    void aBrokenManifestIsRefusedAndNotCached(Mode mode) throws Exception {
        Image image = layout.image("manifest-" + name(mode), Content.of("fault-manifest-" + name(mode)));
        skopeo.push(layout.ref("manifest-" + name(mode)), upstream.host() + "/fault/manifest-" + name(mode) + ":1");
        String byTag = kiln.baseUrl() + "/v2/x/fault/manifest-" + name(mode) + "/manifests/1";
        String byDigest = kiln.baseUrl() + "/v2/x/fault/manifest-" + name(mode) + "/manifests/" + image.digest();
        double errorsBefore = kiln.metric("kiln_mirror_upstream_errors_total", "upstream=x");
        proxy.fault(mode, path -> path.contains("/manifests/"));
        for (String url : List.of(byDigest, byTag)) {
            Http.Response response = Http.get(url, "Accept", Http.ACCEPT_ALL);
            assertEquals(502, response.status(), () -> url + ": " + new String(response.body()));
            assertEquals("UNAVAILABLE", response.errorCode());
            if (mode == Mode.CORRUPT) {
                assertTrue(response.errorMessage().contains("hashes to"), response.errorMessage());
            }
        }
        assertEquals(2, kiln.metric("kiln_mirror_upstream_errors_total", "upstream=x") - errorsBefore, 0.0);
        assertNothingStored(image.digest());
        proxy.clear();
        for (String url : List.of(byTag, byDigest)) {
            Http.Response response = Http.get(url, "Accept", Http.ACCEPT_ALL);
            assertEquals(200, response.status(), url);
            assertEquals(image.digest(), response.digest());
        }
    }

    @Test
    void aTagIsRevalidatedWithHeadAndServedStaleWhileTheUpstreamIsDown() throws Exception {
        String manifestPath = "/v2/stale/app/manifests/1";
        String url = kiln.baseUrl() + "/v2/x/stale/app/manifests/1";
        Http.Response first = Http.get(url, "Accept", Http.ACCEPT_ALL);
        assertEquals(200, first.status());
        assertEquals(stale.digest(), first.digest());
        long gets = proxy.count("GET", manifestPath::equals);

        // Past the TTL the tag is checked with HEAD, which Docker Hub does not count as a pull.
        assertTrue(Poll.until(Duration.ofSeconds(10), () -> {
            Http.Response again = Http.must(url, "Accept", Http.ACCEPT_ALL);
            assertEquals(200, again.status());
            assertNull(again.header("X-Kiln-Cache"));
            return proxy.count("HEAD", manifestPath::equals) > 0;
        }), "the tag was revalidated");
        assertEquals(gets, proxy.count("GET", manifestPath::equals), "an unchanged tag is not downloaded again");

        double staleBefore = kiln.metric("kiln_mirror_stale_served_total", "upstream=x");
        proxy.fault(Mode.UNAVAILABLE, path -> true);
        assertStaleServed(url);
        proxy.stop(); // connection refused
        assertStaleServed(url);
        assertTrue(kiln.metric("kiln_mirror_stale_served_total", "upstream=x") - staleBefore >= 2);

        Http.Response refused = Http.get(kiln.baseUrl() + "/v2/x/stale/app/manifests/never-pulled", "Accept", Http.ACCEPT_ALL);
        assertEquals(502, refused.status(), "nothing cached and nobody to ask");
        assertEquals("UNAVAILABLE", refused.errorCode());
        // skopeo and podman show the status line, not the body: the reason must be in it
        ExecResult pulled = skopeo.copy("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/x/stale/app:never-pulled",
                "dir:" + Files.createTempDirectory(tmp, "never"));
        assertTrue(pulled.exitCode() != 0 && pulled.output().contains("502 Bad Gateway: ") && pulled.output().contains("unreachable"),
                pulled.output());

        proxy.start();
        proxy.fault(Mode.TOO_MANY_REQUESTS, path -> true);
        assertStaleServed(url);
        Http.Response throttled = Http.get(kiln.baseUrl() + "/v2/x/stale/app/manifests/never-pulled", "Accept", Http.ACCEPT_ALL);
        assertEquals(429, throttled.status());
        assertEquals("TOOMANYREQUESTS", throttled.errorCode());
        assertEquals(FaultProxy.RETRY_AFTER, throttled.header("Retry-After"));
        assertTrue(kiln.metric("kiln_mirror_upstream_errors_total", "upstream=x", "code=TOOMANYREQUESTS") >= 2);

        proxy.clear();
        Http.Response fresh = Http.get(url, "Accept", Http.ACCEPT_ALL);
        assertEquals(200, fresh.status());
        assertEquals(stale.digest(), fresh.digest());
    }

    @Test
    void aMovedTagIsFollowedAfterItsTtl() throws Exception {
        Image before = layout.image("moving-1", Content.of("fault-moving-1"));
        Image after = layout.image("moving-2", Content.of("fault-moving-2"));
        skopeo.push(layout.ref("moving-1"), upstream.host() + "/moving/app:latest");
        String url = kiln.baseUrl() + "/v2/x/moving/app/manifests/latest";
        assertEquals(before.digest(), Http.get(url, "Accept", Http.ACCEPT_ALL).digest());
        skopeo.push(layout.ref("moving-2"), upstream.host() + "/moving/app:latest");
        assertTrue(Poll.until(Duration.ofSeconds(10), () -> after.digest().equals(Http.must(url, "Accept", Http.ACCEPT_ALL).digest())),
                "Kiln follows the tag to its new digest");
        Path copy = tmp.resolve("moved-copy");
        skopeo.copy("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/x/moving/app:latest", "dir:" + copy).requireSuccess();
        assertEquals(after.digest(), Skopeo.manifestDigest(copy));
    }

    // ---- helpers

    private static void assertStaleServed(String url) {
        Http.Response[] last = new Http.Response[1];
        boolean served = Poll.until(Duration.ofSeconds(10), () -> {
            last[0] = Http.must(url, "Accept", Http.ACCEPT_ALL);
            return "stale".equals(last[0].header("X-Kiln-Cache"));
        });
        assertTrue(served, () -> "no stale answer: " + last[0].status() + " " + new String(last[0].body()));
        assertEquals(200, last[0].status());
        assertEquals(stale.digest(), last[0].digest());
        assertTrue(last[0].header("Warning").startsWith("110 "), last[0].header("Warning"));
    }

    private static void assertNothingStored(String digest) throws IOException {
        assertFalse(Files.exists(kiln.blobFile(digest)), "no blob kept for " + digest);
        Path temp = kiln.store().resolve("tmp");
        assertTrue(Poll.until(Duration.ofSeconds(5), () -> {
            try (Stream<Path> files = Files.list(temp)) {
                return files.findAny().isEmpty();
            } catch (IOException e) {
                return false;
            }
        }), "the partial download was removed");
        ExecResult fsck = kiln.fsck();
        assertEquals(0, fsck.exitCode(), fsck.output());
    }

    /** {@code count} simultaneous GETs; each outcome is an {@link Http.Response} or the exception of a broken transfer. */
    static List<Object> concurrentGets(String url, int count) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(count);
        try {
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            List<Future<Object>> futures = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                futures.add(pool.submit(() -> {
                    go.await();
                    try {
                        return Http.get(url);
                    } catch (IOException e) {
                        return e;
                    }
                }));
            }
            go.countDown();
            List<Object> outcomes = new ArrayList<>();
            for (Future<Object> future : futures) {
                outcomes.add(future.get());
            }
            return outcomes;
        } finally {
            pool.shutdownNow();
        }
    }

    private static String name(Mode mode) {
        return mode.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
