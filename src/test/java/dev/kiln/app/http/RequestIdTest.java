package dev.kiln.app.http;

import static dev.kiln.app.http.BuildApi.awaitEnd;
import static dev.kiln.app.http.BuildApi.context;
import static dev.kiln.app.http.BuildApi.tarGz;
import static dev.kiln.app.http.Registry.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.LogCapture;
import dev.kiln.registry.mirror.UpstreamRouter;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.logging.LogRecord;
import org.jboss.logmanager.ExtLogRecord;
import org.junit.jupiter.api.Test;

/**
 * Every answer carries an {@code X-Request-Id} (the caller's when well-formed), and the log lines a
 * request causes carry it too: the upstream fetch it started, the queued line of the build it submitted.
 */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class RequestIdTest {
    private static final Path WORK = Path.of("target", "request-id-test");
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @Inject
    UpstreamRouter upstreams;

    @Test
    void aWellFormedIdIsKeptAndAnyOtherReplaced() {
        assertEquals("abc-123.x:y_z", request().header("X-Request-Id", "abc-123.x:y_z").get("/v2/").header("X-Request-Id"));
        assertEquals("abc-123.x:y_z", request().header("X-Request-Id", "abc-123.x:y_z").get("/api/v1/builds").header("X-Request-Id"));
        for (String bad : List.of("two words", "x".repeat(65), "semi;colon", "%s")) {
            String id = request().header("X-Request-Id", bad).get("/v2/").header("X-Request-Id");
            assertTrue(id != null && id.matches("[0-9a-f]{16}"), "a new id instead of '" + bad + "': " + id);
        }
        String first = request().get("/no/such/page").header("X-Request-Id");
        String second = request().get("/no/such/page").header("X-Request-Id");
        assertTrue(first != null && second != null && !first.equals(second), "each request its own id: " + first + ", " + second);
    }

    @Test
    void theFetchARequestStartedAndTheBuildItSubmittedLogItsId() throws Exception {
        LogCapture capture = LogCapture.start();
        List<LogRecord> records = capture.records();
        int port = upstreams.upstreams().get(WipeTestStore.TEST_UPSTREAM).endpoint().url().getPort();
        try (DockerRegistry upstream = DockerRegistry.configure(WORK.resolve("upstream-" + UUID.randomUUID())).port(port).start()) {
            String repo = "ids/blob-" + UUID.randomUUID().toString().substring(0, 8);
            byte[] content = new byte[100_000];
            new Random().nextBytes(content);
            String digest = upstream.pushBlob(repo, content);

            String pullId = "pull-" + UUID.randomUUID();
            HttpResponse<byte[]> pulled = HTTP.send(HttpRequest.newBuilder(URI.create(BuildApi.url("/v2/" + WipeTestStore.TEST_UPSTREAM
                    + "/" + repo + "/blobs/" + digest))).header("X-Request-Id", pullId).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, pulled.statusCode());
            assertEquals(pullId, pulled.headers().firstValue("X-Request-Id").orElse(null));
            LogRecord fetched = awaitRecord(records, "fetched blob " + WipeTestStore.TEST_UPSTREAM + "/" + repo + "@" + digest);
            assertEquals(pullId, mdc(fetched), "the fetch line names the request that started it");

            String buildRequest = "build-" + UUID.randomUUID();
            Path ctx = context(WORK, "FROM scratch\nCOPY a.txt /a.txt\n", Map.of("a.txt", "a\n"));
            String id = request().header("X-Request-Id", buildRequest).contentType("application/gzip").body(tarGz(ctx))
                    .post("/api/v1/builds").then().statusCode(202).header("X-Request-Id", buildRequest).extract().path("id");
            awaitEnd(id);
            assertEquals(buildRequest, mdc(awaitRecord(records, "build " + id + " queued")),
                    "the queued line ties the request to the build id the later lines name");
            assertNotEquals(buildRequest, mdc(awaitRecord(records, "build " + id + " succeeded")),
                    "a build runs after its request ended");
        } finally {
            capture.close();
        }
    }

    private static String mdc(LogRecord record) {
        return record instanceof ExtLogRecord ext ? ext.getMdc(RequestIds.MDC_KEY) : null;
    }

    private static LogRecord awaitRecord(List<LogRecord> records, String prefix) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            for (LogRecord record : records) {
                String message = record instanceof ExtLogRecord ext ? ext.getFormattedMessage() : record.getMessage();
                if (message != null && message.startsWith(prefix)) {
                    return record;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no log line starting with '" + prefix + "' among " + records.stream()
                .map(r -> r instanceof ExtLogRecord ext ? ext.getFormattedMessage() : r.getMessage()).toList());
    }
}
