package dev.kiln.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.FaultProxy;
import dev.kiln.testkit.KilnImage;
import dev.kiln.testkit.KubeManifests;
import dev.kiln.testkit.MotoS3;
import dev.kiln.testkit.OciLayout;
import dev.kiln.testkit.OciLayout.Content;
import dev.kiln.testkit.OciLayout.Image;
import dev.kiln.testkit.Podman;
import dev.kiln.testkit.Poll;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import dev.kiln.testkit.Tools;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
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
 * The {@code ha} overlay as deployed: its Deployment, rendered by kubectl with the image built
 * from this checkout, played by podman as three replicas on one moto bucket, with fabric8's mock
 * API server (CRUD) as the cluster's API server holding the Service's EndpointSlices, which the
 * replicas watch to find each other, and the GC Lease they take turns on. Cold pulls spread over
 * the replicas fetch each blob from the upstream (distribution, counting in its access log) once;
 * a tag and a chunked upload cross replicas; collections hold the Lease while pushes go on.
 *
 * <p>What the test does that a cluster would do differently, because podman 4.3's {@code kube play}
 * is no kubelet (../shared/podman-notes.md): it plays the Deployment's pod three times under three
 * names, each on a port of its own on the host's network (so POD_IP is 127.0.0.1 and every
 * replica has an EndpointSlice of its own for its port, as the EndpointSlice controller would
 * publish a pod once it is ready); it expands the {@code $(VAR)} args, which podman passes on
 * as written; Secrets are podman secrets in the two forms podman reads; the service-account
 * directory is a host directory with a token and the namespace; and the mock API server speaks
 * plain HTTP, so {@code QUARKUS_KUBERNETES_CLIENT_API_SERVER_URL} points at it beside the
 * {@code KUBERNETES_SERVICE_HOST/PORT} a kubelet sets.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HaOverlayIT {
    static final String NS = "kiln";
    static final String BUCKET = "kiln-ha";
    static final String USER = "builder";
    static final String PASSWORD = "ha-" + UUID.randomUUID();
    static final int PULLS = 12;

    @TempDir
    static Path work;
    static Podman podman;
    static Skopeo skopeo;
    static DockerRegistry upstream;
    static FaultProxy proxy;
    static MotoS3 moto;
    static KubernetesMockServer api;
    static KubernetesClient kube;
    static Watch leaseWatch;
    static Image app;
    static final List<String> leaseHolders = Collections.synchronizedList(new ArrayList<>());
    static final List<GatewayPod> replicas = new ArrayList<>();

    @BeforeAll
    static void deployTheHaOverlay() throws Exception {
        assertTrue(Tools.isRoot(), "podman kube play runs the pods as root here (../shared/podman-notes.md)");
        podman = new Podman(work.resolve("podman"));
        skopeo = new Skopeo(work.resolve("skopeo"));
        OciLayout layout = new OciLayout(work.resolve("layout"));
        List<Content> layers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            layers.add(Content.of("ha-layer-" + i).withoutBusybox().filler(1 << 20));
        }
        app = layout.image("app", layers);
        upstream = DockerRegistry.start(work.resolve("upstream"));
        skopeo.push(layout.ref("app"), upstream.host() + "/team/app:1");
        proxy = new FaultProxy(upstream.port());
        moto = MotoS3.start(work, BUCKET);

        api = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), new KubernetesCrudDispatcher(), false);
        api.init(InetAddress.getByName("127.0.0.1"), 0);
        kube = api.createClient();
        leaseWatch = kube.resources(Lease.class).inNamespace(NS).withName("kiln-gc").watch(new Watcher<>() {
            @Override
            public void eventReceived(Action action, Lease lease) {
                leaseHolders.add(lease.getSpec() == null || lease.getSpec().getHolderIdentity() == null ? "" : lease.getSpec().getHolderIdentity());
            }

            @Override
            public void onClose(WatcherException cause) {
            }
        });

        // what the kubelet mounts for the pods' service account; the pods run as user 1000
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path account = Files.createDirectories(work.resolve("serviceaccount"));
        Files.writeString(account.resolve("token"), "ha-overlay-it-token");
        Files.writeString(account.resolve("namespace"), NS);
        ExecResult htpasswd = Tools.run(List.of(Tools.require("htpasswd", "apache2-utils").toString(), "-nbB", USER, PASSWORD), Map.of(), 60);
        assertEquals(0, htpasswd.exitCode(), htpasswd.output());
        String image = KilnImage.gateway();
        String peerToken = UUID.randomUUID().toString();
        for (int i = 0; i < 3; i++) {
            GatewayPod pod = new GatewayPod(podman, KubeManifests.render("ha", image, work), work);
            assertEquals(3, pod.deployment().getSpec().getReplicas(), "the overlay asks for three replicas; podman plays one each time");
            pod.set("kiln.properties", "kiln.mirror.upstreams.\"docker.io\".url", proxy.url());
            // collections every 2 s, so that they overlap the pushes below; the Lease keeps them apart.
            // In ha.properties, as an operator of this overlay would: it must win over the base's 24h.
            pod.set("ha.properties", "kiln.gc.interval", "2s");
            pod.secret("kiln-s3", Map.of("store", "s3://" + BUCKET + "/kiln", "endpoint", moto.endpoint(), "region", "us-east-1",
                    "AWS_ACCESS_KEY_ID", MotoS3.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", MotoS3.SECRET_KEY));
            pod.secret("kiln-peers", Map.of("token", peerToken));
            pod.secret("kiln-htpasswd", Map.of("htpasswd", htpasswd.stdout().strip() + "\n"));
            pod.basicAuth(USER, PASSWORD);
            pod.env("KUBERNETES_SERVICE_HOST", "127.0.0.1");
            pod.env("KUBERNETES_SERVICE_PORT", Integer.toString(api.getPort()));
            pod.env("QUARKUS_KUBERNETES_CLIENT_API_SERVER_URL", "http://127.0.0.1:" + api.getPort());
            var spec = pod.deployment().getSpec().getTemplate().getSpec();
            spec.getVolumes().add(new VolumeBuilder().withName("kube-api-access").withNewHostPath().withPath(account.toString())
                    .withType("Directory").endHostPath().build());
            pod.container().getVolumeMounts().add(new VolumeMountBuilder().withName("kube-api-access")
                    .withMountPath("/var/run/secrets/kubernetes.io/serviceaccount").withReadOnly(true).build());
            replicas.add(pod);
        }
        // the first alone: it pulls the image and measures a start on this machine, which scales the others' deadline
        ready(0);
        ExecutorService starting = Executors.newFixedThreadPool(2);
        try {
            List<Future<?>> started = new ArrayList<>();
            for (int i = 1; i < 3; i++) {
                int index = i;
                started.add(starting.submit(() -> {
                    ready(index);
                    return null;
                }));
            }
            for (Future<?> f : started) {
                f.get();
            }
        } finally {
            starting.shutdownNow();
        }
    }

    /** Starts replica {@code index}; once it is ready, publishes its address as the EndpointSlice controller would. */
    static void ready(int index) {
        GatewayPod pod = replicas.get(index);
        pod.start();
        kube.discovery().v1().endpointSlices().inNamespace(NS).resource(new EndpointSliceBuilder()
                .withNewMetadata().withName("kiln-" + index).addToLabels("kubernetes.io/service-name", "kiln").endMetadata()
                .withAddressType("IPv4")
                .addNewEndpoint().withAddresses("127.0.0.1").withNewConditions().withReady(true).endConditions()
                .withNewTargetRef().withKind("Pod").withName(pod.podName()).withNamespace(NS).endTargetRef().endEndpoint()
                .addNewPort().withName("http").withPort(pod.port()).withProtocol("TCP").endPort()
                .build()).create();
    }

    @AfterAll
    static void tearDown() throws Exception {
        replicas.forEach(GatewayPod::close);
        if (leaseWatch != null) {
            leaseWatch.close();
        }
        if (kube != null) {
            kube.close();
        }
        if (api != null) {
            api.destroy();
        }
        for (AutoCloseable c : new AutoCloseable[] {proxy, upstream, moto}) {
            if (c != null) {
                c.close();
            }
        }
    }

    static String logs() {
        StringBuilder out = new StringBuilder();
        for (GatewayPod pod : replicas) {
            out.append("\n--- ").append(pod.podName()).append(":\n").append(pod.logTail());
        }
        return out.append("\n--- upstream:\n").append(upstream.logTail()).toString();
    }

    static double metric(GatewayPod pod, String name) {
        try {
            String text = pod.http().send(HttpRequest.newBuilder(URI.create(pod.url("/q/metrics"))).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            return text.lines().filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{"))
                    .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
        } catch (Exception e) {
            return -1;
        }
    }

    @Test
    @Order(1)
    void coldPullsSpreadOverTheReplicasFetchEachBlobFromTheUpstreamOnce() throws Exception {
        // the peers are found through the EndpointSlices; without that each replica would fetch for itself
        boolean allFound = Poll.until(Duration.ofSeconds(60), () -> replicas.stream().allMatch(p -> metric(p, "kiln_peers_members") == 3));
        System.err.println("HaOverlayIT: every replica sees 3 members: " + allFound);
        proxy.throttle(2 << 20, 200); // slow enough that the pulls ask while the first fetches run
        ExecutorService pool = Executors.newFixedThreadPool(PULLS);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<ExecResult>> pulls = new ArrayList<>();
            for (int i = 0; i < PULLS; i++) {
                GatewayPod pod = replicas.get(i % 3);
                Path out = work.resolve("pulled-" + i);
                pulls.add(pool.submit(() -> {
                    go.await();
                    return skopeo.tryRun("copy", "--src-tls-verify=false", "docker://" + pod.hostPort() + "/team/app:1", "dir:" + out);
                }));
            }
            go.countDown();
            for (Future<ExecResult> pull : pulls) {
                ExecResult r = pull.get();
                assertEquals(0, r.exitCode(), r.output() + logs());
            }
        } finally {
            pool.shutdownNow();
            proxy.clear();
        }
        for (int i = 0; i < PULLS; i++) {
            for (OciLayout.Blob blob : app.blobs()) {
                Path file = work.resolve("pulled-" + i).resolve(blob.digest().substring("sha256:".length()));
                assertEquals(blob.digest(), TestImages.sha256(file), "bytes of pull " + i);
            }
        }
        for (OciLayout.Blob blob : app.blobs()) {
            assertEquals(1, upstream.blobGets(blob.digest()), "upstream GETs of " + blob.digest() + " for " + PULLS
                    + " pulls over 3 replicas" + logs());
        }
        assertTrue(replicas.stream().mapToDouble(p -> metric(p, "kiln_peers_forwarded_total")).sum() > 0,
                "misses on replicas that do not own a digest were streamed from its owner" + logs());
    }

    @Test
    @Order(2)
    void aTagPushedThroughOneReplicaIsReadThroughAnother() {
        TestImages.Layout busybox = TestImages.busybox(work.resolve("busybox"));
        skopeo.run("copy", "--dest-tls-verify=false", "--dest-creds", USER + ":" + PASSWORD, "--format", "oci", busybox.reference(),
                "docker://" + replicas.get(0).hostPort() + "/local/ha/busybox:1");
        String digest = skopeo.run("inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                "docker://" + replicas.get(2).hostPort() + "/local/ha/busybox:1").stdout().trim();
        assertEquals(busybox.image().digest(), digest, logs());
    }

    @Test
    @Order(3)
    void aChunkedUploadWhosePatchesGoToDifferentReplicasCompletes() throws Exception {
        byte[] blob = new byte[3 << 20];
        new Random(17).nextBytes(blob);
        String digest = TestImages.sha256(blob);
        HttpResponse<String> opened = send(replicas.get(0), "POST", "/v2/local/ha/chunked/blobs/uploads/", null, null);
        assertEquals(202, opened.statusCode(), opened.body() + logs());
        String location = opened.headers().firstValue("Location").orElseThrow();
        int chunk = 1 << 20;
        for (int i = 0; i * chunk < blob.length; i++) {
            int from = i * chunk;
            int to = Math.min(blob.length, from + chunk);
            HttpResponse<String> patched = send(replicas.get(i % 3), "PATCH", location, Arrays.copyOfRange(blob, from, to),
                    from + "-" + (to - 1));
            assertEquals(202, patched.statusCode(), "PATCH " + i + " on " + replicas.get(i % 3).podName() + ": " + patched.body() + logs());
            location = patched.headers().firstValue("Location").orElse(location);
        }
        HttpResponse<String> closed = send(replicas.get(1), "PUT", location + (location.contains("?") ? "&" : "?") + "digest=" + digest,
                null, null);
        assertEquals(201, closed.statusCode(), closed.body() + logs());
        HttpResponse<byte[]> read = replicas.get(2).http().send(HttpRequest.newBuilder(URI.create(replicas.get(2)
                .url("/v2/local/ha/chunked/blobs/" + digest))).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, read.statusCode(), logs());
        assertEquals(digest, TestImages.sha256(read.body()));
    }

    @Test
    @Order(4)
    void collectionsHoldTheLeaseOneReplicaAtATimeWhilePushesThroughTheOthersAreKept() throws Exception {
        assertTrue(Poll.until(Duration.ofSeconds(60), () -> leaseHolders.stream().anyMatch(h -> !h.isEmpty())),
                "a replica took the Lease kiln-gc in the API server" + logs());
        OciLayout fresh = new OciLayout(work.resolve("gc-layout"));
        List<String> pushed = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            // new blobs, pushed over a few collection periods, through every replica in turn
            GatewayPod pod = replicas.get(i % 3);
            fresh.image("gc-" + i, List.of(Content.of("pushed during collections " + i).withoutBusybox().filler(64 << 10)));
            String ref = "local/ha/gc-" + i + ":1";
            skopeo.push(fresh.ref("gc-" + i), pod.hostPort() + "/" + ref, "--dest-creds", USER + ":" + PASSWORD);
            pushed.add(ref);
            Poll.sleep(1500);
        }
        List<String> holders = List.copyOf(leaseHolders);
        List<String> pods = replicas.stream().map(GatewayPod::podName).toList();
        for (String holder : holders) {
            assertTrue(holder.isEmpty() || pods.contains(holder), "the Lease is held by a pod, by its name: " + holder + " of " + holders);
        }
        String previous = "";
        for (String holder : holders) {
            assertTrue(previous.isEmpty() || holder.isEmpty() || holder.equals(previous),
                    "the Lease passed from " + previous + " to " + holder + " without being released: " + holders);
            previous = holder;
        }
        Lease lease = kube.resources(Lease.class).inNamespace(NS).withName("kiln-gc").get();
        assertNotNull(lease, "the Lease is in the API server");
        assertTrue(lease.getSpec().getLeaseDurationSeconds() > 0);
        String collectors = String.join(" ", replicas.stream().filter(p -> p.logTail().contains("gc (" + p.podName() + "): removed"))
                .map(GatewayPod::podName).toList());
        assertFalse(collectors.isEmpty(), "a replica collected garbage under its own name" + logs());

        // nothing acknowledged was lost: fsck in a pod, as `kubectl exec deploy/kiln -- kiln fsck` would run it
        ExecResult fsck = podman.tryRun("exec", replicas.get(0).containerName(), "/kiln/bin/kiln", "fsck");
        assertEquals(0, fsck.exitCode(), "fsck: " + fsck.output() + logs());
        for (String ref : pushed) {
            ExecResult inspect = skopeo.tryRun("inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                    "docker://" + replicas.get(2).hostPort() + "/" + ref);
            assertEquals(0, inspect.exitCode(), ref + ": " + inspect.output() + logs());
        }
    }

    private static HttpResponse<String> send(GatewayPod pod, String method, String location, byte[] body, String range) throws Exception {
        URI uri = location.startsWith("http") ? URI.create(pod.url(URI.create(location).getRawPath()
                + (URI.create(location).getRawQuery() == null ? "" : "?" + URI.create(location).getRawQuery()))) : URI.create(pod.url(location));
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(120))
                .header("Authorization", "Basic " + Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8)))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        if (range != null) {
            request.header("Content-Type", "application/octet-stream").header("Content-Range", range);
        }
        return pod.http().send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
