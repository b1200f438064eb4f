package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.registry.peers.Rendezvous;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.FaultProxy;
import dev.kiln.testkit.Http;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.MotoS3;
import dev.kiln.testkit.OciLayout;
import dev.kiln.testkit.OciLayout.Content;
import dev.kiln.testkit.OciLayout.Image;
import dev.kiln.testkit.Ports;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three {@code kiln serve} replicas on one bucket (moto) in front of one upstream (distribution, its
 * access log counting blob GETs): cold pulls spread over the replicas fetch each blob from the
 * upstream once, because every miss is routed to the replica that owns the digest; a tag pushed on
 * one is read on another; and when an owner is killed mid-stream, its client's transfer breaks and a
 * retry on another replica gets verified bytes (that replica fetches the blob itself).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReplicasIT {
    static final String BUCKET = "kiln-replicas";
    static final String TOKEN = "replicas-it-peer-token";
    static final int CLIENTS = 20;

    @TempDir
    static Path work;

    static MotoS3 moto;
    static DockerRegistry upstream;
    static FaultProxy proxy;
    static Skopeo skopeo;
    static Image app;
    static Image big;
    static final List<String> urls = new ArrayList<>();
    static final List<KilnProcess> replicas = new ArrayList<>();

    @BeforeAll
    static void setUp() throws Exception {
        skopeo = new Skopeo(work.resolve("skopeo"));
        OciLayout layout = new OciLayout(work.resolve("layout"));
        List<Content> layers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            layers.add(Content.of("replicas-layer-" + i).withoutBusybox().filler(1 << 20));
        }
        app = layout.image("app", layers);
        big = layout.image("big", Content.of("replicas-big").withoutBusybox().filler(24 << 20));
        upstream = DockerRegistry.start(work.resolve("upstream"));
        skopeo.push(layout.ref("app"), upstream.host() + "/replicas/app:1");
        skopeo.push(layout.ref("big"), upstream.host() + "/replicas/big:1");
        proxy = new FaultProxy(upstream.port());
        moto = MotoS3.start(work, BUCKET);

        List<Integer> ports = List.of(Ports.freePort(), Ports.freePort(), Ports.freePort());
        ports.forEach(port -> urls.add("http://127.0.0.1:" + port));
        List<String> args = new ArrayList<>(List.of("--s3-endpoint", moto.endpoint(), "--s3-path-style", "--upstream", "up=" + proxy.url()));
        urls.forEach(url -> args.addAll(List.of("--peer", url)));
        ExecutorService starting = Executors.newFixedThreadPool(3);
        try {
            List<Future<KilnProcess>> started = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                String name = "replica-" + (char) ('a' + i);
                int port = ports.get(i);
                started.add(starting.submit(() -> KilnProcess.configureOn(name, "s3://" + BUCKET + "/kiln")
                        .prefix(List.of("env", "AWS_ACCESS_KEY_ID=" + MotoS3.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY=" + MotoS3.SECRET_KEY,
                                "AWS_REGION=us-east-1", "KILN_STORE_S3_LOCAL_DIR=" + work.resolve(name + "-local"),
                                "KILN_CLUSTER_PEER_TOKEN=" + TOKEN))
                        .port(port).args(args.toArray(String[]::new)).start()));
            }
            for (Future<KilnProcess> replica : started) {
                replicas.add(replica.get());
            }
        } finally {
            starting.shutdownNow();
        }
    }

    @AfterAll
    static void tearDown() {
        replicas.forEach(KilnProcess::close);
        for (AutoCloseable closeable : new AutoCloseable[] {proxy, upstream, moto}) {
            try {
                if (closeable != null) {
                    closeable.close();
                }
            } catch (Exception ignored) {
                // the temp dir goes anyway
            }
        }
    }

    private static String logs() {
        StringBuilder text = new StringBuilder();
        for (KilnProcess replica : replicas) {
            text.append("\n--- ").append(replica.baseUrl()).append(":\n").append(replica.logTail());
        }
        return text.append("\n--- upstream:\n").append(upstream.logTail()).toString();
    }

    private static double sum(String metric) {
        return replicas.stream().filter(KilnProcess::isAlive).mapToDouble(r -> r.metric(metric)).sum();
    }

    @Test
    @Order(1)
    void coldPullsSpreadOverThreeReplicasFetchEachBlobFromTheUpstreamOnce() throws Exception {
        proxy.throttle(2 << 20, 200); // slow enough that all the pulls ask while the first fetches run
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<List<String>>> pulls = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                String base = replicas.get(i % 3).baseUrl();
                pulls.add(pool.submit(() -> {
                    go.await();
                    return Http.pull(base, "up/replicas/app", "1");
                }));
            }
            go.countDown();
            List<String> expected = new ArrayList<>(List.of(app.digest()));
            app.blobs().forEach(blob -> expected.add(blob.digest()));
            for (Future<List<String>> pull : pulls) {
                assertEquals(expected, pull.get(), logs());
            }
        } finally {
            pool.shutdownNow();
            proxy.clear();
        }
        for (OciLayout.Blob blob : app.blobs()) {
            assertEquals(1, upstream.blobGets(blob.digest()), "upstream GETs of " + blob.digest() + " for " + CLIENTS
                    + " pulls over 3 replicas" + logs());
        }
        assertTrue(sum("kiln_peers_forwarded_total") > 0, "misses on non-owners were streamed from the owner" + logs());
        assertEquals(0, sum("kiln_peers_fallbacks_total"), logs());
        assertTrue(sum("kiln_peers_served_total") > 0, logs());
    }

    @Test
    @Order(2)
    void aTagPushedOnOneReplicaIsReadOnAnother() {
        TestImages.Layout busybox = TestImages.busybox(work.resolve("busybox"));
        skopeo.run("copy", "--dest-tls-verify=false", "--format", "oci", busybox.reference(),
                "docker://" + replicas.get(0).hostPort() + "/local/replicas:1");
        String digest = skopeo.run("inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                "docker://" + replicas.get(2).hostPort() + "/local/replicas:1").stdout().trim();
        assertEquals(busybox.image().digest(), digest, logs());
    }

    /** The peer endpoint is no way around the registry's rules: it wants the token and serves mirrored names only. */
    @Test
    @Order(3)
    void outsidersCannotUseThePeerEndpoint() throws IOException {
        String blob = app.layers().get(0).digest();
        String path = replicas.get(0).baseUrl() + "/_kiln/peer/blob?upstream=up&name=replicas/app&digest=" + blob;
        Http.Response none = Http.get(path, "Kiln-Peer-Hop", "1");
        assertEquals(401, none.status(), "no token");
        assertEquals("UNAUTHORIZED", none.errorCode());
        assertEquals(401, Http.get(path, "Kiln-Peer-Hop", "1", "Kiln-Peer-Token", TOKEN + "x").status(), "a wrong token");
        assertEquals(200, Http.get(path, "Kiln-Peer-Hop", "1", "Kiln-Peer-Token", TOKEN).status(), "the replicas' token");
        // a local repository is not a mirrored name, whatever the caller holds
        Http.Response local = Http.get(replicas.get(0).baseUrl() + "/_kiln/peer/blob?upstream=local&name=replicas&digest=" + blob,
                "Kiln-Peer-Hop", "1", "Kiln-Peer-Token", TOKEN);
        assertEquals(404, local.status());
        assertEquals("NAME_UNKNOWN", local.errorCode());
        assertTrue(replicas.get(0).metric("kiln_peers_refused_total") >= 2, logs());
    }

    @Test
    @Order(4)
    void anOwnerKilledMidStreamBreaksItsClientsTransferAndARetryElsewhereGetsVerifiedBytes() throws Exception {
        OciLayout.Blob layer = big.layers().get(0);
        int ownerIndex = urls.indexOf(Rendezvous.owner(layer.digest(), urls));
        KilnProcess owner = replicas.get(ownerIndex);
        KilnProcess asker = replicas.get((ownerIndex + 1) % 3);
        KilnProcess other = replicas.get((ownerIndex + 2) % 3);
        proxy.throttle(4 << 20, 0); // six seconds for the whole layer
        HttpResponse<InputStream> response = Http.client().send(HttpRequest.newBuilder(
                URI.create(asker.baseUrl() + "/v2/up/replicas/big/blobs/" + layer.digest())).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, response.statusCode(), logs());
        long received = 0;
        byte[] buffer = new byte[64 * 1024];
        try (InputStream body = response.body()) {
            while (received < 2 << 20) {
                int n = body.read(buffer);
                assertTrue(n >= 0, "the layer ended after " + received + " bytes" + logs());
                received += n;
            }
            owner.kill();
            assertThrows(IOException.class, () -> {
                while (body.read(buffer) >= 0) {
                    // the rest, until the transfer breaks
                }
            }, "the client of a replica whose owner died mid-stream must see a broken transfer, not an end");
        } finally {
            proxy.clear();
        }

        Path copy = work.resolve("big-copy");
        skopeo.run("copy", "--src-tls-verify=false", "docker://" + other.hostPort() + "/up/replicas/big:1", "oci:" + copy + ":big");
        for (OciLayout.Blob blob : big.blobs()) {
            Path file = copy.resolve("blobs/sha256/" + blob.digest().substring("sha256:".length()));
            assertEquals(blob.digest(), TestImages.sha256(file), "bytes of " + blob.digest() + " pulled from the replica retried on");
        }
        assertTrue(other.metric("kiln_peers_fallbacks_total") >= 1, "the dead owner's blob was fetched by the replica asked" + logs());
        // and the asker, asked again, finds the blob in the bucket or fetches it itself
        assertEquals(layer.digest(), Http.get(asker.baseUrl() + "/v2/up/replicas/big/blobs/" + layer.digest()).digest(), logs());
    }
}
