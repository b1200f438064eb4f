package dev.kiln.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnImage;
import dev.kiln.testkit.KubeManifests;
import dev.kiln.testkit.Podman;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import dev.kiln.testkit.Tools;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code cluster} overlay as deployed, and the Jobs its runner generates, run for real. The
 * gateway is the rendered Deployment played by podman with the image built from this checkout; its
 * API server is fabric8's mock, and {@link Kubelet} runs every Job the runner creates as a podman
 * pod from the Job's exact pod template and reports back what a kubelet would. Each build is
 * submitted over {@code /api/v1/builds}: the pod fetches its context with the one-time token, pulls
 * its base through the gateway's mirror, builds and pushes, and the digest comes back through the
 * termination message. Every variant the runner generates runs: in-place with the registry Secret
 * and the layer cache, the namespace sandbox without credentials or cache; and the failure paths:
 * a failing RUN, a pod killed mid-build, a cancel, an image that cannot be pulled.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GeneratedJobsIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final String NS = "kiln";
    private static final String USER = "pusher";
    private static final String PASSWORD = "s3cret-" + UUID.randomUUID();
    /** The gateway's own user (the overlay's kiln-htpasswd Secret): the build API and pushes into it need one. */
    private static final String ADMIN = "builder";
    private static final String ADMIN_PASSWORD = "gw-" + UUID.randomUUID();
    private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(5);

    @TempDir
    static Path work;
    static Podman podman;
    static Skopeo skopeo;
    static DockerRegistry upstream;
    static DockerRegistry secured;
    static Kubelet kubelet;
    static String image;
    static GatewayPod gateway;

    @BeforeAll
    static void deployTheClusterOverlay() throws Exception {
        assertTrue(Tools.isRoot(), "podman kube play runs the pods as root here (../shared/podman-notes.md)");
        podman = new Podman(work.resolve("podman"));
        skopeo = new Skopeo(work.resolve("skopeo"));
        upstream = DockerRegistry.start(work.resolve("upstream"));
        skopeo.run("copy", "--dest-tls-verify=false", TestImages.busybox(work.resolve("busybox")).reference(),
                "docker://" + upstream.host() + "/library/busybox:1");
        secured = DockerRegistry.start(work.resolve("secured"), USER, PASSWORD);
        kubelet = new Kubelet(podman, work, NS, "kiln-e2e-" + UUID.randomUUID().toString().substring(0, 8) + "-");
        image = KilnImage.gateway();
        gateway = clusterGateway(Map.of());
        // the build pods' registry Secret: the destination registry, and the gateway for the layer cache
        kubelet.client().secrets().inNamespace(NS).resource(new SecretBuilder().withNewMetadata().withName("kiln-registry").endMetadata()
                .withType("kubernetes.io/dockerconfigjson").addToData(".dockerconfigjson", Base64.getEncoder().encodeToString(
                        ("{\"auths\":{\"" + secured.host() + "\":{\"auth\":\"" + basic(USER, PASSWORD) + "\"},\""
                                + gateway.hostPort() + "\":{\"auth\":\"" + basic(ADMIN, ADMIN_PASSWORD) + "\"}}}").getBytes(StandardCharsets.UTF_8)))
                .build()).create();
        gateway.start();
    }

    /** The cluster overlay, configured as an operator would for this machine's registries, with {@code changes} to runner.properties. */
    private static GatewayPod clusterGateway(Map<String, String> changes) {
        GatewayPod pod = new GatewayPod(podman, KubeManifests.render("cluster", image, work), work);
        assertEquals(image, pod.container().getImage(), "the Deployment runs the image built from this checkout");
        pod.set("runner.properties", "kiln.builds.kubernetes.image", image);
        pod.set("runner.properties", "kiln.builds.kubernetes.gateway", pod.hostPort());
        changes.forEach((key, value) -> pod.set("runner.properties", key, value));
        pod.set("kiln.properties", "kiln.mirror.upstreams.\"docker.io\".url", upstream.url());
        pod.set("kiln.properties", "kiln.builds.insecure-registries", secured.host());
        // pushing there with the gateway's registry Secret is the operator's decision, per user
        pod.set("kiln.properties", "kiln.builds.push-allow.\"*\"", secured.host() + "/team/**");
        ExecResult htpasswd = Tools.run(List.of(Tools.require("htpasswd", "apache2-utils").toString(), "-nbB", ADMIN, ADMIN_PASSWORD),
                Map.of(), 60);
        assertEquals(0, htpasswd.exitCode(), htpasswd.output());
        pod.secret("kiln-htpasswd", Map.of("htpasswd", htpasswd.stdout().strip() + "\n"));
        pod.basicAuth(ADMIN, ADMIN_PASSWORD);
        pod.env("QUARKUS_KUBERNETES_CLIENT_API_SERVER_URL", kubelet.apiServerUrl());
        pod.env("QUARKUS_KUBERNETES_CLIENT_NAMESPACE", NS);
        return pod;
    }

    @AfterAll
    static void tearDown() {
        if (gateway != null) {
            gateway.close();
        }
        if (kubelet != null) {
            kubelet.close();
        }
        for (DockerRegistry r : new DockerRegistry[] {upstream, secured}) {
            if (r != null) {
                r.close();
            }
        }
    }

    @Test
    @Order(0)
    void theClusterOverlaysBuildApiNeedsAUser() throws Exception {
        HttpResponse<String> anonymous = HTTP.send(HttpRequest.newBuilder(URI.create(gateway.url("/api/v1/builds?dockerfile=Dockerfile")))
                .header("Content-Type", "application/gzip").POST(HttpRequest.BodyPublishers.ofString("not a context")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(401, anonymous.statusCode(), anonymous.body() + diagnostics(gateway));
        assertEquals(200, get(gateway, "/api/v1/builds").statusCode(), "the overlay's user from kiln-htpasswd is let in");
    }

    @Test
    @Order(1)
    void anInPlaceJobFetchesItsContextBuildsAndPushesWithTheMountedRegistrySecret() throws Exception {
        String destination = secured.host() + "/team/app:1";
        JsonNode end = build(gateway, Map.of("Dockerfile", "FROM busybox:1\nRUN echo ran-$((6*7)) && echo in-a-job > /job\nCOPY a /a\n",
                "a", "from the context\n"), destination, true);
        String log = log(gateway, end);
        assertEquals("succeeded", end.get("state").asText(), end + "\n" + log + diagnostics(gateway));
        assertTrue(log.contains("ran-42") && log.contains("STEP 3/3: COPY a /a"), "the pod's log reached the build log:\n" + log);
        String pushed = skopeo.run("inspect", "--tls-verify=false", "--creds", USER + ":" + PASSWORD, "--format", "{{.Digest}}",
                "docker://" + destination).stdout().trim();
        assertEquals(end.get("digest").asText(), pushed, "the digest came back through the termination message");
        Job job = kubelet.client().batch().v1().jobs().inNamespace(NS).withName("kiln-build-" + end.get("id").asText()).get();
        assertNotNull(job);
        assertEquals(image, job.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
    }

    @Test
    @Order(2)
    void aSecondBuildTakesEveryStepFromTheLayerCacheInTheGateway() throws Exception {
        JsonNode end = build(gateway, Map.of("Dockerfile", "FROM busybox:1\nRUN echo ran-$((6*7)) && echo in-a-job > /job\nCOPY a /a\n",
                "a", "from the context\n"), secured.host() + "/team/app:2", true);
        String log = log(gateway, end);
        assertEquals("succeeded", end.get("state").asText(), log + diagnostics(gateway));
        assertFalse(log.contains("ran-42"), "the RUN came from the cache, it did not run again:\n" + log);
        assertTrue(log.contains("RUN echo ran-$((6*7)) && echo in-a-job > /job (cached"), log);
    }

    @Test
    @Order(3)
    void aFailingRunFailsTheBuildWithTheExecutorsLastLine() throws Exception {
        JsonNode end = build(gateway, Map.of("Dockerfile", "FROM busybox:1\nRUN echo about-to-fail && exit 3\n"), null, false);
        assertEquals("failed", end.get("state").asText(), end + diagnostics(gateway));
        String error = end.get("error").asText();
        assertTrue(error.startsWith("executor exited 1") && error.contains("exit 3"), error);
        assertTrue(log(gateway, end).contains("about-to-fail"));
    }

    @Test
    @Order(4)
    void aPodKilledMidBuildFailsTheBuild() throws Exception {
        String id = submit(gateway, Map.of("Dockerfile", "FROM busybox:1\nRUN echo sleeping-now && sleep 300\n"), null, false);
        awaitTrue(() -> logOf(gateway, id).contains("sleeping-now"), "the RUN started", gateway);
        String container = kubelet.containerOf("kiln-build-" + id);
        assertNotNull(container);
        podman.run("kill", container);
        JsonNode end = awaitEnd(gateway, id);
        assertEquals("failed", end.get("state").asText(), end + diagnostics(gateway));
        assertTrue(end.get("error").asText().startsWith("executor exited 137"), end.get("error").asText());
    }

    @Test
    @Order(5)
    void aCancelWhileRunningEndsTheBuildAndItsPod() throws Exception {
        String id = submit(gateway, Map.of("Dockerfile", "FROM busybox:1\nRUN echo sleeping-now && sleep 300\n"), null, false);
        awaitTrue(() -> logOf(gateway, id).contains("sleeping-now"), "the RUN started", gateway);
        HttpResponse<String> cancelled = HTTP.send(authorized(gateway, HttpRequest.newBuilder(URI.create(gateway.url("/api/v1/builds/" + id))))
                .DELETE().build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(cancelled.statusCode() / 100 == 2, cancelled.statusCode() + " " + cancelled.body());
        JsonNode end = awaitEnd(gateway, id);
        assertEquals("cancelled", end.get("state").asText(), end + diagnostics(gateway));
        awaitTrue(() -> kubelet.runningContainers().isEmpty(), "no build pod left running", gateway);
    }

    @Test
    @Order(6)
    void theNamespaceSandboxVariantBuildsWithoutCredentialsOrCacheIntoTheGateway() throws Exception {
        try (GatewayPod namespaces = clusterGateway(Map.of("kiln.builds.kubernetes.sandbox", "namespaces",
                "kiln.builds.kubernetes.instance", "kiln-namespaces"))) {
            namespaces.set("runner.properties", "kiln.builds.kubernetes.docker-config-secret", null);
            // this operator turns the overlay's authentication off: pushes into the gateway need no user
            namespaces.set("runner.properties", "kiln.htpasswd", null);
            namespaces.start();
            String destination = namespaces.hostPort() + "/builds/team/app:1";
            JsonNode end = build(namespaces, Map.of("Dockerfile",
                    "FROM busybox:1\nRUN echo ran-the-run && hostname > /host && cat /proc/1/cmdline > /pid1\n"
                    // the pod has the host's interfaces here; the RUN must see its own loopback only
                    + "RUN cat /proc/net/dev && test \"$(grep -c : /proc/net/dev)\" = 1\n"), destination, false);
            String log = log(namespaces, end);
            assertEquals("succeeded", end.get("state").asText(), end + "\n" + log + diagnostics(namespaces));
            String pushed = skopeo.run("inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://" + destination).stdout().trim();
            assertEquals(end.get("digest").asText(), pushed);
            Job job = kubelet.client().batch().v1().jobs().inNamespace(NS).withName("kiln-build-" + end.get("id").asText()).get();
            var security = job.getSpec().getTemplate().getSpec().getContainers().get(0).getSecurityContext();
            assertEquals(true, security.getReadOnlyRootFilesystem(), "the namespace pod ran on a read-only root");
            List<String> args = job.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs();
            assertTrue(String.join(" ", args).contains("--network none"), "RUN without network unless allowed: " + args);
        }
    }

    @Test
    @Order(7)
    void aJobWhoseImageCannotBePulledFailsTheBuildAndLeavesNothingRunning() throws Exception {
        try (GatewayPod unpullable = clusterGateway(Map.of("kiln.builds.kubernetes.instance", "kiln-unpullable"))) {
            unpullable.set("runner.properties", "kiln.builds.kubernetes.image", KilnImage.registryHost() + "/kiln/no-such-image:1");
            unpullable.start();
            JsonNode end = build(unpullable, Map.of("Dockerfile", "FROM busybox:1\n"), null, false);
            assertEquals("failed", end.get("state").asText(), end + diagnostics(unpullable));
            assertTrue(end.get("error").asText().contains("cannot be pulled"), end.get("error").asText());
            awaitTrue(() -> kubelet.client().batch().v1().jobs().inNamespace(NS).withName("kiln-build-" + end.get("id").asText()).get() == null,
                    "the Job deleted", unpullable);
        }
        assertEquals(List.of(), kubelet.runningContainers());
        assertEquals(List.of(), kubelet.problems());
    }

    private static JsonNode build(GatewayPod to, Map<String, String> files, String destination, boolean cache) throws Exception {
        return awaitEnd(to, submit(to, files, destination, cache));
    }

    private static String submit(GatewayPod to, Map<String, String> files, String destination, boolean cache) throws Exception {
        Path context = Files.createDirectories(work.resolve("context-" + UUID.randomUUID()));
        for (var f : files.entrySet()) {
            Files.writeString(context.resolve(f.getKey()), f.getValue());
        }
        Path tar = context.resolveSibling(context.getFileName() + ".tar.gz");
        ExecResult packed = Tools.run(List.of("tar", "-czf", tar.toString(), "-C", context.toString(), "."), Map.of(), 60);
        assertEquals(0, packed.exitCode(), packed.output());
        String query = "dockerfile=Dockerfile&cache=" + cache + (destination == null ? "" : "&destination=" + destination);
        HttpResponse<String> r = HTTP.send(authorized(to, HttpRequest.newBuilder(URI.create(to.url("/api/v1/builds?" + query))))
                .header("Content-Type", "application/gzip").POST(HttpRequest.BodyPublishers.ofFile(tar)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(202, r.statusCode(), r.body() + diagnostics(to));
        return JSON.readTree(r.body()).get("id").asText();
    }

    private static JsonNode awaitEnd(GatewayPod on, String id) throws Exception {
        long deadline = System.nanoTime() + BUILD_TIMEOUT.toNanos();
        while (true) {
            JsonNode record = JSON.readTree(get(on, "/api/v1/builds/" + id).body());
            if (Set.of("succeeded", "failed", "cancelled").contains(record.get("state").asText())) {
                return record;
            }
            if (System.nanoTime() > deadline) {
                fail("build " + id + " did not end within " + BUILD_TIMEOUT.toMinutes() + " min: " + record + "\n" + logOf(on, id) + diagnostics(on));
            }
            GatewayPod.sleep(500);
        }
    }

    private static void awaitTrue(BooleanSupplier condition, String what, GatewayPod on) {
        long deadline = System.nanoTime() + BUILD_TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("waited in vain for " + what + diagnostics(on));
            }
            GatewayPod.sleep(300);
        }
    }

    private static String log(GatewayPod on, JsonNode record) {
        return logOf(on, record.get("id").asText());
    }

    private static String logOf(GatewayPod on, String id) {
        try {
            return get(on, "/api/v1/builds/" + id + "/log").body();
        } catch (IOException | InterruptedException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    private static String diagnostics(GatewayPod on) {
        return "\n--- gateway log tail:\n" + on.logTail() + "\n--- kubelet stand-in problems: " + kubelet.problems();
    }

    private static HttpResponse<String> get(GatewayPod on, String path) throws IOException, InterruptedException {
        return HTTP.send(authorized(on, HttpRequest.newBuilder(URI.create(on.url(path)))).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpRequest.Builder authorized(GatewayPod on, HttpRequest.Builder request) {
        return on.authorization() == null ? request : request.header("Authorization", on.authorization());
    }

    private static String basic(String user, String password) {
        return Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }
}
