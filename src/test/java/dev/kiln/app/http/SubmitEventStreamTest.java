package dev.kiln.app.http;

import static dev.kiln.app.http.BuildApi.JSON;
import static dev.kiln.app.http.BuildApi.awaitEnd;
import static dev.kiln.app.http.BuildApi.context;
import static dev.kiln.app.http.BuildApi.host;
import static dev.kiln.app.http.BuildApi.submitFollowing;
import static dev.kiln.app.http.BuildApi.tarGz;
import static dev.kiln.app.http.Registry.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * One request for a whole build: {@code POST /api/v1/builds} with {@code Accept: text/event-stream}
 * answers with the build's log as server-sent events, opened by an {@code accepted} event and closed
 * by the log endpoint's {@code end} event. Real uploads, real builds, the real HTTP server.
 */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class SubmitEventStreamTest {
    private static final Path WORK = Path.of("target", "submit-event-stream-test");

    @Test
    void theSubmissionAnswersWithTheLogToItsEnd() throws Exception {
        Path ctx = context(WORK, "FROM scratch\nCOPY hello.txt /hello.txt\n", Map.of("hello.txt", "hello\n"));
        String image = host() + "/local/gw-stream-" + UUID.randomUUID().toString().substring(0, 6) + ":1";
        HttpResponse<InputStream> response = submitFollowing(tarGz(ctx), "?cache=true&destination=" + image);
        assertEquals(202, response.statusCode());
        assertEquals("text/event-stream; charset=utf-8", response.headers().firstValue("Content-Type").orElse(""));
        String location = response.headers().firstValue("Location").orElse("");
        List<BuildApi.Event> events = BuildApi.events(response.body());

        BuildApi.Event first = events.get(0);
        assertEquals("accepted", first.name(), events.toString());
        JsonNode accepted = JSON.readTree(first.data());
        String id = accepted.get("id").asText();
        assertEquals("/api/v1/builds/" + id, location);
        assertEquals(image, accepted.get("spec").get("destinations").get(0).asText());
        BuildApi.Events log = BuildApi.logAndEnd(events);
        assertEquals("build " + id + " queued", log.lines().get(0), log.text());
        assertTrue(log.text().contains("[0] STEP 2/2: COPY hello.txt /hello.txt"), log.text());
        assertEquals("succeeded", log.end().get("state").asText(), log.text());
        assertEquals(id, log.end().get("id").asText());

        // the same build, the same end, as the two-request flow sees it
        JsonNode record = awaitEnd(id);
        assertEquals(record.get("digest").asText(), log.end().get("digest").asText());
        assertEquals(log.end(), BuildApi.follow(id, Map.of()).end());
        String plain = request().get("/api/v1/builds/" + id + "/log").asString();
        assertEquals(String.join("\n", log.lines()) + "\n", plain);
    }

    @Test
    void aFailingBuildEndsItsStreamFailedAndARefusedOneIsAProblem() throws Exception {
        Path ctx = context(WORK, "FROM scratch\nCOPY missing.txt /missing.txt\n", Map.of());
        HttpResponse<InputStream> response = submitFollowing(tarGz(ctx), "");
        assertEquals(202, response.statusCode());
        BuildApi.Events log = BuildApi.logAndEnd(BuildApi.events(response.body()));
        assertEquals("failed", log.end().get("state").asText(), log.text());
        assertTrue(log.end().get("error").asText().contains("missing.txt"), log.end().toString());
        assertEquals("failed", awaitEnd(log.end().get("id").asText()).get("state").asText());

        // refused before a build exists: a problem document, not a stream
        HttpResponse<InputStream> refused = submitFollowing(tarGz(context(WORK, null, Map.of("a.txt", "a"))), "");
        assertEquals(400, refused.statusCode());
        assertEquals("application/problem+json", refused.headers().firstValue("Content-Type").orElse(""));
        try (InputStream body = refused.body()) {
            assertEquals("/api/v1/problems/missing-dockerfile",
                    JSON.readTree(body.readAllBytes()).get("type").asText());
        }
    }

    /** Decided and documented: closing the stream is not a cancel; the build ends as it would have. */
    @Test
    void aClientThatHangsUpLeavesTheBuildRunning() throws Exception {
        String base = BuildApi.busyboxBase(WORK);
        String token = UUID.randomUUID().toString().substring(0, 8);
        byte[] archive = tarGz(context(WORK, "FROM " + base + "\nRUN echo begun-" + token + " && sleep 3 && echo done-" + token
                + "\n", Map.of()));
        String id;
        try (Socket socket = RawHttp.connect()) {
            RawHttp.write(socket, "POST /api/v1/builds HTTP/1.1\r\nHost: " + host() + "\r\nAccept: text/event-stream\r\n"
                    + "Content-Type: application/gzip\r\nContent-Length: " + archive.length + "\r\n\r\n");
            socket.getOutputStream().write(archive);
            socket.getOutputStream().flush();
            String seen = readUntil(socket, "  | begun-" + token);
            assertTrue(seen.startsWith("HTTP/1.1 202"), seen);
            // the opening event is written at once, so it is whole within one chunk of the chunked body
            String opening = "event: accepted\ndata: ";
            int data = seen.indexOf(opening) + opening.length();
            assertTrue(data >= opening.length(), seen);
            id = JSON.readTree(seen.substring(data, seen.indexOf('\n', data))).get("id").asText();
        }
        JsonNode end = awaitEnd(id);
        String log = request().get("/api/v1/builds/" + id + "/log").asString();
        assertEquals("succeeded", end.get("state").asText(), log);
        assertTrue(log.contains("  | done-" + token), log);
    }

    /** What the socket gave until {@code text} showed (at most two minutes). */
    private static String readUntil(Socket socket, String text) throws Exception {
        socket.setSoTimeout(120_000);
        ByteArrayOutputStream seen = new ByteArrayOutputStream();
        InputStream in = socket.getInputStream();
        byte[] buffer = new byte[8192];
        for (int n; (n = in.read(buffer)) > 0; ) {
            seen.write(buffer, 0, n);
            if (seen.toString(StandardCharsets.UTF_8).contains(text)) {
                return seen.toString(StandardCharsets.UTF_8);
            }
        }
        throw new AssertionError("the stream ended before '" + text + "':\n" + seen.toString(StandardCharsets.UTF_8));
    }
}
