package dev.kiln.app.http;

import static dev.kiln.app.http.BuildApi.JSON;
import static dev.kiln.app.http.BuildApi.awaitEnd;
import static dev.kiln.app.http.BuildApi.context;
import static dev.kiln.app.http.BuildApi.follow;
import static dev.kiln.app.http.BuildApi.host;
import static dev.kiln.app.http.BuildApi.storedBuilds;
import static dev.kiln.app.http.BuildApi.tarGz;
import static dev.kiln.app.http.Registry.request;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.testkit.Skopeo;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** {@code /api/v1/builds} end to end: real uploads, real builds by the in-process builder, pushed into the gateway itself. */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class BuildApiTest {
    private static final Path WORK = Path.of("target", "build-api-test");

    private static Response submit(byte[] context, String query) {
        return request().contentType("application/gzip").body(context).post("/api/v1/builds" + query);
    }


    private static void assertProblem(Response response, int status, String slug) {
        response.then().statusCode(status)
                .contentType("application/problem+json")
                .body("type", equalTo("/api/v1/problems/" + slug))
                .body("status", equalTo(status))
                .body("title", org.hamcrest.Matchers.notNullValue())
                .body("detail", org.hamcrest.Matchers.notNullValue());
    }

    @Test
    void uploadedContextIsBuiltPushedIntoTheGatewayAndItsLogStreamsToTheEnd() throws Exception {
        Path ctx = context(WORK, "FROM scratch\nCOPY hello.txt /srv/hello.txt\nLABEL stage=one\n",
                Map.of("hello.txt", "hello from the gateway\n", "skipped.txt", "not in the image\n", ".dockerignore", "skipped.txt\n"));
        String image = host() + "/local/gw-hello-" + UUID.randomUUID().toString().substring(0, 6) + ":1";
        Response accepted = submit(tarGz(ctx), "?destination=" + image + "&label=team=kiln&buildArg=UNUSED=1&cache=true");
        accepted.then().statusCode(202)
                .header("Location", startsWith("/api/v1/builds/"))
                .body("state", org.hamcrest.Matchers.oneOf("queued", "running"))
                .body("spec.destinations[0]", equalTo(image))
                .body("spec.cache", equalTo(true));
        String id = accepted.path("id");
        assertEquals("/api/v1/builds/" + id, accepted.header("Location"));
        assertEquals("/api/v1/builds/" + id + "/log", accepted.path("links.log"));
        assertEquals("/api/v1/builds/" + id, accepted.path("links.self"));

        BuildApi.Events events = follow(id, Map.of());
        assertEquals("succeeded", events.end().get("state").asText(), events.text());
        assertTrue(events.text().contains("[0] STEP 2/3: COPY hello.txt /srv/hello.txt"), events.text());
        String digest = events.end().get("digest").asText();
        assertTrue(events.text().contains("build succeeded: " + digest), events.text());

        JsonNode build = awaitEnd(id);
        assertEquals(digest, build.get("digest").asText());
        assertEquals(3, build.get("steps").size(), build.toString());
        assertEquals("COPY hello.txt /srv/hello.txt", build.get("steps").get(1).get("instruction").asText());
        assertTrue(build.get("steps").get(1).get("durationMillis").asLong() >= 0);
        assertEquals(image.substring(0, image.lastIndexOf(':')) + "@" + digest, build.get("pushed").get(0).asText());
        assertNotNull(build.get("startedAt").textValue());
        assertNotNull(build.get("finishedAt").textValue());
        assertTrue(build.get("queuePosition").isNull());

        // a client that resumes after the second line gets the rest, not the whole log again
        String log = request().get("/api/v1/builds/" + id + "/log").then().statusCode(200)
                .contentType(startsWith("text/plain")).extract().asString();
        assertTrue(log.startsWith("build " + id + " queued\nbuild " + id + " started\n"), log);
        long afterSecondLine = log.indexOf('\n', log.indexOf('\n') + 1) + 1;
        BuildApi.Events resumed = follow(id, Map.of("Last-Event-ID", Long.toString(afterSecondLine)));
        assertEquals(events.lines().subList(2, events.lines().size()), resumed.lines());

        Skopeo skopeo = new Skopeo(WORK.resolve("skopeo"));
        JsonNode inspected = JSON.readTree(skopeo.run("inspect", "--tls-verify=false", "docker://" + image).stdout());
        assertEquals(digest, inspected.get("Digest").asText());
        assertEquals("kiln", inspected.get("Labels").get("team").asText());
        assertEquals("one", inspected.get("Labels").get("stage").asText());

        request().get("/api/v1/builds?state=succeeded").then().statusCode(200)
                .body("builds.id", org.hamcrest.Matchers.hasItem(id));
        request().get("/api/v1/builds?state=failed").then().statusCode(200)
                .body("builds.id", org.hamcrest.Matchers.not(org.hamcrest.Matchers.hasItem(id)));
        assertFalse(Files.exists(BuildApi.BUILDS.resolve(id).resolve("context.tar")), "the uploaded context is removed after the build");
        assertTrue(Files.isRegularFile(BuildApi.BUILDS.resolve(id).resolve("build.json")));
    }

    @Test
    void runningBuildIsCancelledItsRunKilledAndNothingPushed() throws Exception {
        String baseImage = BuildApi.busyboxBase(WORK);

        String token = "kiln-cancel-" + UUID.randomUUID();
        Path slow = context(WORK, "FROM " + baseImage + "\nRUN echo started && sleep 297 && echo " + token + "\n", Map.of());
        String target = host() + "/local/gw-cancelled-" + UUID.randomUUID().toString().substring(0, 6);
        String id = submit(tarGz(slow), "?destination=" + target + ":1").then().statusCode(202).extract().path("id");
        awaitLog(id, "  | started");
        assertTrue(processWith(token), "the RUN is running");

        // with one build at a time, the next one waits and shows where it is in the queue
        String queued = submit(tarGz(slow), "").then().statusCode(202).extract().path("id");
        request().get("/api/v1/builds/" + queued).then().statusCode(200)
                .body("state", equalTo("queued")).body("queuePosition", equalTo(1));
        request().delete("/api/v1/builds/" + queued).then().statusCode(200).body("state", equalTo("cancelled"));

        request().delete("/api/v1/builds/" + id).then().statusCode(202);
        JsonNode end = awaitEnd(id);
        assertEquals("cancelled", end.get("state").asText(), end.toString());
        // the build ends only after the sandbox has killed the RUN, so nothing may be left by now
        assertFalse(processWith(token), "the RUN and its shell are gone");
        request().get("/v2/" + target.substring(host().length() + 1) + "/manifests/1").then().statusCode(404);
        assertProblem(request().delete("/api/v1/builds/" + id), 409, "build-ended");
        BuildApi.Events events = follow(id, Map.of());
        assertEquals("cancelled", events.end().get("state").asText());
    }

    private static void awaitLog(String id, String text) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        String log = "";
        while (System.nanoTime() < deadline) {
            log = request().get("/api/v1/builds/" + id + "/log").asString();
            if (log.contains(text)) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the log of " + id + " never showed '" + text + "':\n" + log);
    }

    /** Whether any process's command line contains {@code token}. */
    private static boolean processWith(String token) throws IOException {
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path proc : (Iterable<Path>) procs.filter(p -> p.getFileName().toString().matches("\\d+"))::iterator) {
                try {
                    if (new String(Files.readAllBytes(proc.resolve("cmdline"))).replace('\0', ' ').contains(token)) {
                        return true;
                    }
                } catch (IOException gone) {
                    // the process ended while we looked
                }
            }
        }
        return false;
    }

    @Test
    void badRequestsGetProblemDetailsAndLeaveNothingInTheStore() throws Exception {
        List<String> before = storedBuilds();

        Path noDockerfile = context(WORK, null, Map.of("Containerfile", "FROM scratch\n"));
        Response missing = submit(tarGz(noDockerfile), "");
        assertProblem(missing, 400, "missing-dockerfile");
        missing.then().body("detail", containsString("Dockerfile"));

        assertProblem(submit("this is not a tar archive at all".getBytes(), ""), 400, "broken-context");
        byte[] whole = tarGz(context(WORK, "FROM scratch\n", Map.of("data.txt", "x".repeat(100_000) + UUID.randomUUID())));
        assertProblem(submit(java.util.Arrays.copyOf(whole, whole.length / 2), ""), 400, "broken-context");

        // over the test limit of 8M, once announced by Content-Length and once streamed without it
        byte[] big = new byte[9 << 20];
        new java.util.Random(1).nextBytes(big);
        HttpResponse<String> declared = BuildApi.post("", "application/gzip", HttpRequest.BodyPublishers.ofByteArray(big));
        assertEquals(413, declared.statusCode(), declared.body());
        assertEquals("application/problem+json", declared.headers().firstValue("Content-Type").orElse(""));
        assertEquals("/api/v1/problems/context-too-large", JSON.readTree(declared.body()).get("type").asText());
        HttpResponse<String> streamed = BuildApi.post("", "application/gzip",
                HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(big)));
        assertEquals(413, streamed.statusCode(), streamed.body());

        assertProblem(request().contentType("application/json").body("{\"context\": ").post("/api/v1/builds"), 400, "invalid-request");
        assertProblem(request().contentType("application/json").body("{\"contxt\": \"git://x\"}").post("/api/v1/builds"),
                400, "invalid-request");
        assertProblem(request().contentType("application/json").body("{\"context\": \"/etc\"}").post("/api/v1/builds"),
                400, "invalid-request");
        assertProblem(submit(tarGz(noDockerfile), "?dockerfile=../Dockerfile"), 400, "invalid-request");
        assertProblem(submit(tarGz(noDockerfile), "?colour=blue"), 400, "invalid-request");
        assertProblem(request().contentType("text/plain").body("FROM scratch").post("/api/v1/builds"), 415, "unsupported-media-type");

        assertProblem(request().get("/api/v1/builds/0123456789abcdef0123"), 404, "build-not-found");
        assertProblem(request().get("/api/v1/builds/not-an-id/log"), 404, "build-not-found");
        assertProblem(request().delete("/api/v1/builds/0123456789abcdef0123"), 404, "build-not-found");
        assertProblem(request().get("/api/v1/builds?state=sleeping"), 400, "invalid-request");
        assertProblem(request().put("/api/v1/builds"), 405, "method-not-allowed");

        assertEquals(before, storedBuilds());
    }

    @Test
    void aContextUrlIsFetchedByTheBuilder() throws Exception {
        Path ctx = context(WORK, null, Map.of("build/Dockerfile", "FROM scratch\nARG A\nCOPY served.txt /served-$A.txt\n",
                "served.txt", "from a URL\n"));
        byte[] archive = tarGz(ctx);
        com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/ctx.tar.gz", exchange -> {
            exchange.sendResponseHeaders(200, archive.length);
            exchange.getResponseBody().write(archive);
            exchange.close();
        });
        server.start();
        try {
            String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/ctx.tar.gz";
            String image = host() + "/local/gw-url-" + UUID.randomUUID().toString().substring(0, 6) + ":1";
            Response accepted = request().contentType("application/json")
                    .body("{\"context\": \"" + url + "\", \"dockerfile\": \"build/Dockerfile\", "
                            + "\"buildArgs\": {\"A\": \"1\"}, \"destinations\": [\"" + image + "\"]}")
                    .post("/api/v1/builds");
            accepted.then().statusCode(202).body("spec.context", equalTo(url)).body("spec.buildArgs.A", equalTo("1"));
            BuildApi.Events events = follow(accepted.path("id"), Map.of());
            assertEquals("succeeded", events.end().get("state").asText(), events.text());
            assertTrue(events.text().contains("COPY served.txt /served-$A.txt"), events.text());
        } finally {
            server.stop(0);
        }
        // the gateway's own files are never a context
        for (String local : List.of("/etc", "dir:///etc", "tar:///etc/passwd", "git+file:///srv/repo", "git@host:repo.git",
                "git+ssh://git@git.invalid/repo.git")) {
            assertProblem(request().contentType("application/json").body("{\"context\": \"" + local + "\"}")
                    .post("/api/v1/builds"), 400, "invalid-request");
        }
        // nor, unless the operator allows the bucket (kiln.builds.s3-allow), a bucket its AWS credentials reach
        assertProblem(request().contentType("application/json").body("{\"context\": \"s3://bucket/ctx.tar.gz\"}")
                .post("/api/v1/builds"), 403, "context-not-allowed");
    }

    @Test
    void theOpenApiDocumentDescribesTheBuildApi() {
        String yaml = request().get("/api/v1/openapi.yaml").then().statusCode(200).extract().asString();
        assertTrue(yaml.startsWith("openapi: 3."), yaml);
        for (String path : List.of("/api/v1/builds:", "/api/v1/builds/{id}:", "/api/v1/builds/{id}/log:")) {
            assertTrue(yaml.contains(path), path);
        }
    }
}
