package dev.kiln.app.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Tools;
import io.restassured.RestAssured;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
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
import java.util.stream.Stream;

/** Helpers for the build API tests: contexts made by the real {@code tar}, and an SSE reader. */
final class BuildApi {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path BUILDS = WipeTestStore.STORE.resolve("builds");
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private BuildApi() {
    }

    /** The gateway as image references name it. */
    static String host() {
        return "127.0.0.1:" + RestAssured.port;
    }

    static String url(String path) {
        return "http://" + host() + path;
    }

    /** {@code tar -czf - -C dir .}: the context exactly as a client's tar would send it. */
    static byte[] tarGz(Path dir) {
        ExecResult result = Tools.run(List.of(Tools.require("tar", "tar").toString(), "-czf", "-", "-C", dir.toString(), "."),
                Map.of(), 60);
        assertEquals(0, result.exitCode(), result.output());
        return result.stdoutBytes();
    }

    /** A Dockerfile and its files, written into a new directory under {@code parent}. */
    static Path context(Path parent, String dockerfile, Map<String, String> files) throws IOException {
        Path dir = Files.createTempDirectory(Files.createDirectories(parent), "ctx");
        if (dockerfile != null) {
            Files.writeString(dir.resolve("Dockerfile"), dockerfile);
        }
        for (Map.Entry<String, String> file : files.entrySet()) {
            Files.createDirectories(dir.resolve(file.getKey()).getParent());
            Files.writeString(dir.resolve(file.getKey()), file.getValue());
        }
        return dir;
    }

    /** Builds an image with busybox's shell into the gateway, for builds with a RUN; its reference. */
    static String busyboxBase(Path work) throws IOException, InterruptedException {
        Path base = context(work, "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n", Map.of());
        Files.copy(Path.of("/bin/busybox"), base.resolve("busybox"));
        String image = host() + "/local/busybox-" + java.util.UUID.randomUUID().toString().substring(0, 6) + ":1";
        String id = Registry.request().contentType("application/gzip").body(tarGz(base)).post("/api/v1/builds?destination=" + image)
                .then().statusCode(202).extract().path("id");
        assertEquals("succeeded", awaitEnd(id).get("state").asText(), Registry.request().get("/api/v1/builds/" + id + "/log").asString());
        return image;
    }

    /** Polls {@code GET /api/v1/builds/{id}} until the build has ended; its last state. */
    static JsonNode awaitEnd(String id) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode build = JSON.valueToTree(Registry.request().get("/api/v1/builds/" + id).then().statusCode(200)
                    .extract().as(Map.class));
            if (List.of("succeeded", "failed", "cancelled").contains(build.get("state").asText())) {
                return build;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("build " + id + " did not end in time");
    }

    record Events(List<String> lines, JsonNode end) {
        String text() {
            return String.join("\n", lines);
        }
    }

    /** One server-sent event: its name ("message" when it has none) and its data. */
    record Event(String name, String data) {
    }

    /** Every event of {@code stream} until it ends. */
    static List<Event> events(InputStream stream) throws IOException {
        List<Event> events = new ArrayList<>();
        String name = "message";
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
            for (String line; (line = reader.readLine()) != null; ) {
                if (line.startsWith("event: ")) {
                    name = line.substring(7);
                } else if (line.startsWith("data: ")) {
                    events.add(new Event(name, line.substring(6)));
                } else if (line.isEmpty()) {
                    name = "message";
                }
            }
        }
        return events;
    }

    /** The log lines of {@code events} and the data of their {@code end} event, which must be the last. */
    static Events logAndEnd(List<Event> events) throws IOException {
        List<String> lines = events.stream().filter(e -> e.name().equals("message")).map(Event::data).toList();
        if (events.isEmpty() || !events.get(events.size() - 1).name().equals("end")) {
            fail("the event stream closed without an end event; lines so far:\n" + String.join("\n", lines));
        }
        return new Events(lines, JSON.readTree(events.get(events.size() - 1).data()));
    }

    /** Follows {@code /log} as server-sent events until the {@code end} event; the lines and the end state. */
    static Events follow(String id, Map<String, String> headers) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url("/api/v1/builds/" + id + "/log")))
                .timeout(Duration.ofMinutes(3)).header("Accept", "text/event-stream");
        headers.forEach(request::header);
        HttpResponse<InputStream> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, response.statusCode());
        assertEquals("text/event-stream; charset=utf-8", response.headers().firstValue("Content-Type").orElse(""));
        return logAndEnd(events(response.body()));
    }

    /** {@code POST /api/v1/builds} of a context asking for the build's log as the answer (one request). */
    static HttpResponse<InputStream> submitFollowing(byte[] context, String query) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url("/api/v1/builds" + query))).timeout(Duration.ofMinutes(3))
                .header("Content-Type", "application/gzip").header("Accept", "text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(context)).build(), HttpResponse.BodyHandlers.ofInputStream());
    }

    static HttpResponse<String> post(String query, String contentType, HttpRequest.BodyPublisher body) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url("/api/v1/builds" + query)))
                .header("Content-Type", contentType).POST(body).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** What is in {@code <store>/builds/}, to show a refused request left nothing there. */
    static List<String> storedBuilds() throws IOException {
        List<String> names = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(BUILDS)) {
            walk.filter(p -> !p.equals(BUILDS)).forEach(p -> names.add(BUILDS.relativize(p).toString()));
        }
        return names.stream().sorted().toList();
    }
}
