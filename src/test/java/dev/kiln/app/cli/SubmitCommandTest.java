package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.Ports;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class SubmitCommandTest {
    @TempDir
    Path dir;

    @Test
    void noGatewayThereSaysSoAndHowToStartOne() throws IOException {
        Files.writeString(dir.resolve("Dockerfile"), "FROM scratch\n");
        int port = Ports.freePort();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = new CommandLine(new SubmitCommand(new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true)))
                .execute("--gateway", "http://127.0.0.1:" + port, dir.toString());
        String message = err.toString(StandardCharsets.UTF_8).strip();
        assertEquals(1, exit, message);
        assertEquals(1, message.lines().count(), message);
        assertTrue(message.startsWith("error: cannot reach the gateway at http://127.0.0.1:" + port + ": connection refused")
                && message.contains("kiln serve") && message.contains("--gateway"), message);
    }

    /**
     * The submission's stream breaks after a line: {@code kiln submit} follows the build again at
     * its log from that line on, so nothing is shown twice or lost. A scripted gateway over real HTTP.
     */
    @Test
    void aStreamCutShortIsFollowedAgainFromTheLastLineShown() throws Exception {
        Files.writeString(dir.resolve("Dockerfile"), "FROM scratch\n");
        String id = "0123456789abcdef0123";
        List<String> resumedAt = new CopyOnWriteArrayList<>();
        com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/api/v1/builds", exchange -> {
            exchange.getRequestBody().readAllBytes();
            String answer;
            if (exchange.getRequestMethod().equals("POST")) {
                // no end event: the stream stops after the first line, as a dropped connection does
                answer = "event: accepted\ndata: {\"id\":\"" + id + "\",\"state\":\"queued\"}\n\nid: 11\ndata: first line\n\n";
            } else {
                resumedAt.add(exchange.getRequestURI().getPath() + " " + exchange.getRequestHeaders().getFirst("Last-Event-ID"));
                answer = "id: 23\ndata: second line\n\nevent: end\ndata: {\"id\":\"" + id
                        + "\",\"state\":\"succeeded\",\"digest\":\"sha256:" + "a".repeat(64) + "\",\"error\":null,\"pushed\":[]}\n\n";
            }
            byte[] bytes = answer.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
            exchange.sendResponseHeaders(exchange.getRequestMethod().equals("POST") ? 202 : 200, bytes.length);
            exchange.getResponseBody().write(bytes);
            exchange.close();
        });
        server.start();
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int exit = new CommandLine(new SubmitCommand(new PrintStream(out, true, StandardCharsets.UTF_8),
                    new PrintStream(err, true, StandardCharsets.UTF_8)))
                    .execute("--gateway", "http://127.0.0.1:" + server.getAddress().getPort(), dir.toString());
            assertEquals(0, exit, err.toString(StandardCharsets.UTF_8));
            assertEquals("first line\nsecond line\n", out.toString(StandardCharsets.UTF_8));
            assertEquals(List.of("/api/v1/builds/" + id + "/log 11"), resumedAt);
        } finally {
            server.stop(0);
        }
    }
}
