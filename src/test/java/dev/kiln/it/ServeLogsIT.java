package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Ports;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The packaged {@code kiln serve} logs JSON when asked (flag or environment) and an access log when switched on. */
class ServeLogsIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private static final String REQUEST_ID = "serve-logs-it.1";

    @TempDir
    Path dir;

    @Test
    void jsonLogFormatAndAccessLogFromFlags() throws Exception {
        List<JsonNode> lines = serveAndGet(List.of("--log-format", "json", "--access-log"), Map.of(), "/api/v1/openapi.yaml");
        assertTrue(lines.stream().anyMatch(l -> l.path("loggerName").asText().startsWith("dev.kiln")
                && l.path("level").asText().equals("INFO")), "Kiln's own INFO lines are JSON: " + lines);
        assertEquals(1, lines.stream().filter(l -> l.path("loggerName").asText().equals("io.quarkus.http.access-log")
                && l.path("message").asText().matches(".*\"GET /api/v1/openapi\\.yaml HTTP/1\\.1\" 200 \\d+ \\d+ ms " + REQUEST_ID)).count(),
                "one access log line for the request, with its status, size, time and request id: " + lines);
    }

    @Test
    void jsonLogFormatFromTheEnvironmentWithoutAccessLog() throws Exception {
        List<JsonNode> lines = serveAndGet(List.of(), Map.of("KILN_LOG_FORMAT", "json"), "/api/v1/openapi.yaml");
        assertTrue(lines.stream().anyMatch(l -> l.path("loggerName").asText().startsWith("dev.kiln")), "JSON lines: " + lines);
        assertTrue(lines.stream().noneMatch(l -> l.path("message").asText().contains("GET /api/v1/openapi.yaml")),
                "no access log unless asked: " + lines);
    }

    @Test
    void anUnknownLogFormatIsOneClearLine() throws Exception {
        Process kiln = new ProcessBuilder(command(List.of("--log-format", "xml"))).redirectErrorStream(true).start();
        assertTrue(kiln.waitFor(60, TimeUnit.SECONDS));
        String output = new String(kiln.getInputStream().readAllBytes());
        assertEquals(2, kiln.exitValue(), output);
        assertTrue(output.startsWith("kiln serve: --log-format is text or json, not xml"), output);
    }

    /** Starts kiln serve, GETs {@code path} once, stops it; every line it printed, each of which must be JSON. */
    private List<JsonNode> serveAndGet(List<String> flags, Map<String, String> env, String path) throws Exception {
        int port = Ports.freePort();
        List<String> command = command(new ArrayList<>(flags));
        command.addAll(List.of("--port", Integer.toString(port)));
        Path log = dir.resolve("kiln.log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().putAll(env);
        Process kiln = builder.start();
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            int status = 0;
            while (status != 200 && System.nanoTime() < deadline && kiln.isAlive()) {
                try {
                    status = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                                    .header("X-Request-Id", REQUEST_ID).build(),
                            HttpResponse.BodyHandlers.discarding()).statusCode();
                } catch (IOException notYet) {
                    Thread.sleep(100);
                }
            }
            assertEquals(200, status, "kiln serve answered; its log:\n" + Files.readString(log));
        } finally {
            kiln.destroy(); // SIGTERM: a graceful stop, so the log is flushed
            kiln.waitFor(30, TimeUnit.SECONDS);
            kiln.destroyForcibly();
        }
        List<JsonNode> lines = new ArrayList<>();
        for (String line : Files.readAllLines(log)) {
            if (line.isBlank()) {
                continue;
            }
            try {
                lines.add(JSON.readTree(line));
            } catch (IOException e) {
                throw new AssertionError("not a JSON line: " + line + "\nthe whole log:\n" + Files.readString(log), e);
            }
        }
        assertTrue(!lines.isEmpty(), "kiln serve printed nothing");
        return lines;
    }

    private List<String> command(List<String> flags) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+UseSerialGC", "-jar", KilnProcess.jar().toString(), "serve", "--store", dir.resolve("store").toString()));
        command.addAll(flags);
        return command;
    }
}
