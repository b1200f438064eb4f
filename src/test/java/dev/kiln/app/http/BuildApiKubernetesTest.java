package dev.kiln.app.http;

import static dev.kiln.app.http.BuildApi.context;
import static dev.kiln.app.http.BuildApi.tarGz;
import static dev.kiln.app.http.Registry.request;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.app.cli.BuildCommand;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import io.quarkus.test.kubernetes.client.KubernetesTestServer;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import io.restassured.response.Response;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code kiln serve --build-runner kubernetes} against fabric8's mock API server: a submitted
 * build becomes a Job, the executor run with the Job's arguments fetches the context once with its
 * token and pushes into the gateway, and the pod's end becomes the build's. The test plays the Job
 * controller and the kubelet.
 */
@QuarkusTest
@TestProfile(BuildApiKubernetesTest.KubernetesRunner.class)
@WithKubernetesTestServer(crud = true)
@WithTestResource(WipeTestStore.class)
class BuildApiKubernetesTest {
    static final String NS = "kiln-test";
    private static final Pattern CONTEXT_URL = Pattern.compile("http://kiln\\.kiln-test\\.svc:5000(/api/v1/builds/[0-9a-f]{20}/context)\\?token=(\\S+)");

    public static class KubernetesRunner implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("kiln.builds.runner", "kubernetes", "kiln.builds.kubernetes.image", "kiln-executor:test",
                    "kiln.builds.kubernetes.namespace", NS, "kiln.builds.kubernetes.gateway", "kiln.kiln-test.svc:5000",
                    "kiln.builds.max-concurrent", "4");
        }
    }

    @KubernetesTestServer
    KubernetesServer mockServer;

    /**
     * The pod is played by the real {@code kiln build}, run with the Job's own arguments; only the
     * Service name is replaced by the address the test gateway listens on, as cluster DNS would.
     */
    @Test
    void aSubmittedBuildRunsAsAJobWhoseExecutorFetchesTheContextOnceAndPushesIntoTheGateway() throws Exception {
        KubernetesClient cluster = mockServer.getClient();
        Path ctx = context(Path.of("target", "build-api-k8s-test"), "FROM scratch\nCOPY a.txt /a.txt\n", Map.of("a.txt", "a\n"));
        String id = request().contentType("application/gzip").body(tarGz(ctx))
                .post("/api/v1/builds?destination=kiln.kiln-test.svc:5000/builds/k8s-app:1")
                .then().statusCode(202).extract().path("id");

        Job job = awaitJob(cluster, id);
        List<String> args = new ArrayList<>(job.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs());
        Matcher url = CONTEXT_URL.matcher(args.get(args.indexOf("--context") + 1));
        assertTrue(url.matches(), args.toString());
        String path = url.group(1);
        String token = url.group(2);
        assertProblem(request().get(path), 401, "context-token-required");
        assertProblem(request().get(path + "?token=not-" + token), 403, "context-token-invalid");

        Path digestFile = Files.createTempDirectory(Path.of("target"), "k8s-pod").resolve("termination-log");
        args.replaceAll(a -> a.replace("kiln.kiln-test.svc:5000", BuildApi.host()));
        args.set(args.indexOf("--digest-file") + 1, digestFile.toString());
        args.set(args.indexOf("--sandbox") + 1, "auto");
        assertEquals("build", args.remove(0));
        ByteArrayOutputStream podLog = new ByteArrayOutputStream();
        int exit = new CommandLine(new BuildCommand(new PrintStream(podLog, true, StandardCharsets.UTF_8), InputStream.nullInputStream(),
                Map.of("KILN_EXECUTOR_CONTAINER", "1"))).execute(args.toArray(String[]::new));
        assertEquals(0, exit, podLog.toString(StandardCharsets.UTF_8));
        String digest = Files.readString(digestFile).trim();
        assertProblem(request().get(path + "?token=" + token), 403, "context-token-invalid");
        request().get("/v2/builds/k8s-app/manifests/1").then().statusCode(200).header("Docker-Content-Digest", equalTo(digest));

        Pod pod = cluster.pods().inNamespace(NS).resource(new PodBuilder().withNewMetadata().withName(job.getMetadata().getName() + "-p0")
                .withLabels(job.getSpec().getTemplate().getMetadata().getLabels()).withCreationTimestamp(Instant.now().toString())
                .endMetadata().withSpec(job.getSpec().getTemplate().getSpec()).build()).create();
        pod.setStatus(new PodStatusBuilder().withPhase("Succeeded").addNewContainerStatus().withName("executor").withNewState()
                .withNewTerminated().withExitCode(0).withReason("Completed").withMessage(Files.readString(digestFile)).endTerminated()
                .endState().endContainerStatus().build());
        cluster.pods().inNamespace(NS).resource(pod).updateStatus();

        BuildApi.Events events = BuildApi.follow(id, Map.of());
        assertEquals("succeeded", events.end().get("state").asText(), events.text());
        assertEquals(digest, events.end().get("digest").asText());
        assertTrue(events.text().contains("created Job kiln-build-" + id + " in namespace " + NS), events.text());
        request().get("/api/v1/builds/" + id).then().statusCode(200)
                .body("pushed[0]", equalTo("kiln.kiln-test.svc:5000/builds/k8s-app@" + digest));
    }

    @Test
    void cancellingABuildDeletesItsJob() throws Exception {
        KubernetesClient cluster = mockServer.getClient();
        Path ctx = context(Path.of("target", "build-api-k8s-test"), "FROM scratch\n", Map.of());
        String id = request().contentType("application/gzip").body(tarGz(ctx)).post("/api/v1/builds")
                .then().statusCode(202).extract().path("id");
        Job job = awaitJob(cluster, id);
        request().delete("/api/v1/builds/" + id).then().statusCode(202);
        assertEquals("cancelled", BuildApi.follow(id, Map.of()).end().get("state").asText());
        assertEquals(null, cluster.batch().v1().jobs().inNamespace(NS).withName(job.getMetadata().getName()).get());
    }

    private static void assertProblem(Response response, int status, String slug) {
        response.then().statusCode(status).contentType("application/problem+json")
                .body("type", equalTo("/api/v1/problems/" + slug)).body("status", equalTo(status));
    }

    private static Job awaitJob(KubernetesClient cluster, String id) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            Job job = cluster.batch().v1().jobs().inNamespace(NS).withName("kiln-build-" + id).get();
            if (job != null) {
                return job;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no Job for build " + id);
    }
}
