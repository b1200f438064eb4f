package dev.kiln.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.FlatImage;
import dev.kiln.testkit.KilnImage;
import dev.kiln.testkit.KubeManifests;
import dev.kiln.testkit.Podman;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import dev.kiln.testkit.Tools;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kiln as the {@code local} overlay deploys it, run for real: the image built from this checkout by
 * {@code scripts/build-image}, {@code kubectl kustomize kubernetes/overlays/local} as rendered,
 * played by podman with the Deployment's own args, env, mounts and securityContext (read-only root,
 * dropped capabilities). Through the gateway's port: its probes, a pull through the mirror from a
 * docker-registry upstream, a push into the cache repository, a build over {@code /api/v1/builds}
 * (RUN in the namespace sandbox inside the pod) with its log followed, and a restart of the pod
 * that keeps the store on its claim.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalOverlayIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    static Path work;
    static Podman podman;
    static DockerRegistry upstream;
    static Skopeo skopeo;
    static GatewayPod gateway;
    static String upstreamDigest;
    static String buildId;

    @BeforeAll
    static void deployTheLocalOverlay() throws Exception {
        assertTrue(Tools.isRoot(), "podman kube play runs the pods as root here (../shared/podman-notes.md)");
        podman = new Podman(work.resolve("podman"));
        skopeo = new Skopeo(work.resolve("skopeo"));
        upstream = DockerRegistry.start(work.resolve("upstream"));
        TestImages.Layout busybox = TestImages.busybox(work.resolve("busybox"));
        skopeo.run("copy", "--dest-tls-verify=false", busybox.reference(), "docker://" + upstream.host() + "/library/busybox:1");
        upstreamDigest = busybox.topDigest();

        String image = KilnImage.gateway();
        gateway = new GatewayPod(podman, KubeManifests.render("local", image, work), work);
        // the operator's own upstream, as they would add it to the overlay's kiln.properties
        gateway.configure("kiln.mirror.upstreams.\"upstream.test\".url=" + upstream.url());
        assertEquals(image, gateway.container().getImage(), "the Deployment runs the image built from this checkout");
        gateway.start();
    }

    @AfterAll
    static void tearDown() {
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    @Order(1)
    void theProbesTheDeploymentDeclaresAnswer() throws Exception {
        for (var probe : List.of(gateway.container().getReadinessProbe(), gateway.container().getLivenessProbe())) {
            HttpResponse<String> r = get(probe.getHttpGet().getPath());
            assertEquals(200, r.statusCode(), probe.getHttpGet().getPath() + ": " + r.body() + "\n" + gateway.logTail());
            assertEquals("UP", JSON.readTree(r.body()).get("status").asText(), r.body());
        }
    }

    @Test
    @Order(2)
    void aPullThroughTheMirrorGetsTheUpstreamImageByteForByte() {
        Path pulled = work.resolve("pulled");
        ExecResult copied = skopeo.tryRun("copy", "--src-tls-verify=false",
                "docker://" + gateway.hostPort() + "/upstream.test/library/busybox:1", "oci:" + pulled + ":1");
        assertEquals(0, copied.exitCode(), copied.output() + "\n" + gateway.logTail());
        String inspected = skopeo.run("inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                "docker://" + gateway.hostPort() + "/upstream.test/library/busybox:1").stdout().trim();
        assertEquals(upstreamDigest, inspected, gateway.logTail());
    }

    @Test
    @Order(3)
    void aPushLandsInTheCacheRepository() {
        TestImages.Layout layout = TestImages.busybox(work.resolve("to-push"));
        ExecResult pushed = skopeo.tryRun("copy", "--dest-tls-verify=false", layout.reference(),
                "docker://" + gateway.hostPort() + "/cache/e2e/busybox:1");
        assertEquals(0, pushed.exitCode(), pushed.output() + "\n" + gateway.logTail());
        String digest = skopeo.run("inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                "docker://" + gateway.hostPort() + "/cache/e2e/busybox:1").stdout().trim();
        assertEquals(layout.topDigest(), digest);
    }

    @Test
    @Order(4)
    void aBuildOverHttpRunsItsRunInTheSandboxAndPushes() throws Exception {
        Path context = Files.createDirectories(work.resolve("context"));
        Files.writeString(context.resolve("Dockerfile"), """
                FROM upstream.test/library/busybox:1
                RUN echo built-in-the-pod > /built && cat /proc/1/cmdline > /pid1 && hostname > /host
                COPY a /a
                """);
        Files.writeString(context.resolve("a"), "from the context\n");
        Path tar = work.resolve("context.tar.gz");
        ExecResult packed = Tools.run(List.of("tar", "-czf", tar.toString(), "-C", context.toString(), "."), Map.of(), 60);
        assertEquals(0, packed.exitCode(), packed.output());
        String destination = gateway.hostPort() + "/local/e2e/app:1";
        HttpResponse<String> submitted = HTTP.send(HttpRequest.newBuilder(URI.create(gateway.url(
                        "/api/v1/builds?dockerfile=Dockerfile&destination=" + destination)))
                .header("Content-Type", "application/gzip").POST(HttpRequest.BodyPublishers.ofFile(tar)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(202, submitted.statusCode(), submitted.body() + "\n" + gateway.logTail());
        buildId = JSON.readTree(submitted.body()).get("id").asText();

        List<String> lines = followLog(buildId);
        String log = String.join("\n", lines);
        JsonNode record = JSON.readTree(get("/api/v1/builds/" + buildId).body());
        assertEquals("succeeded", record.get("state").asText(), log + "\n" + gateway.logTail());
        assertTrue(log.contains("STEP 2/3: RUN echo built-in-the-pod"), log);
        assertTrue(lines.get(lines.size() - 1).startsWith("end:"), "the event stream ends with the end state: " + log);

        Path built = work.resolve("built");
        skopeo.run("copy", "--src-tls-verify=false", "docker://" + destination, "oci:" + built + ":1");
        FlatImage image = FlatImage.fromLayout(built);
        assertEquals(TestImages.sha256("built-in-the-pod\n".getBytes(StandardCharsets.UTF_8)), digestOf(image, "built"), image.nodes().keySet().toString());
        assertEquals(TestImages.sha256("from the context\n".getBytes(StandardCharsets.UTF_8)), digestOf(image, "a"));
        // the RUN was pid 1 of a pid namespace of its own, with a host name of its own
        assertNotNull(image.node("pid1"));
        assertNotNull(image.node("host"));
        assertEquals(record.get("digest").asText(), skopeo.run("inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                "docker://" + destination).stdout().trim());
    }

    @Test
    @Order(5)
    void aRestartedPodKeepsTheStoreOnItsClaim() throws Exception {
        gateway.stop();
        gateway.start();
        String digest = skopeo.run("inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                "docker://" + gateway.hostPort() + "/cache/e2e/busybox:1").stdout().trim();
        assertTrue(digest.startsWith("sha256:"), digest);
        assertNotNull(buildId, "the build test ran first");
        JsonNode record = JSON.readTree(get("/api/v1/builds/" + buildId).body());
        assertEquals("succeeded", record.get("state").asText(), record + "\n" + gateway.logTail());
        assertTrue(get("/api/v1/builds/" + buildId + "/log").body().contains("build succeeded"), gateway.logTail());
    }

    private static String digestOf(FlatImage image, String path) {
        FlatImage.Node node = image.node(path);
        assertNotNull(node, path + " in " + image.nodes().keySet());
        return node.digest().startsWith("sha256:") ? node.digest() : "sha256:" + node.digest();
    }

    /** Follows the build's log as server-sent events to its end; the data lines, then {@code end: <state>}. */
    private static List<String> followLog(String id) throws Exception {
        HttpResponse<java.io.InputStream> r = HTTP.send(HttpRequest.newBuilder(URI.create(gateway.url("/api/v1/builds/" + id + "/log")))
                .header("Accept", "text/event-stream").timeout(Duration.ofMinutes(5)).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        List<String> lines = new ArrayList<>();
        String event = null;
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            for (String line; (line = reader.readLine()) != null; ) {
                if (line.startsWith("event:")) {
                    event = line.substring(6).trim();
                } else if (line.startsWith("data:")) {
                    String data = line.substring(5).startsWith(" ") ? line.substring(6) : line.substring(5);
                    lines.add("end".equals(event) ? "end: " + data : data);
                } else if (line.isEmpty()) {
                    event = null;
                }
            }
        } catch (IOException e) {
            throw new IOException("following the log of build " + id + ": " + e.getMessage() + "\n" + gateway.logTail(), e);
        }
        return lines;
    }

    private static HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(gateway.url(path))).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
