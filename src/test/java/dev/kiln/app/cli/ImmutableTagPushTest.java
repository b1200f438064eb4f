package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code --push-ignore-immutable-tag-errors} against a local stand-in that answers a manifest PUT as
 * ECR does for a tag of an immutable repository (every blob is already there).
 */
class ImmutableTagPushTest {
    private static final String ECR_REFUSAL = "{\"errors\":[{\"code\":\"TAG_INVALID\",\"message\":\"The image tag '1' already exists"
            + " in the 'app' repository and cannot be overwritten because the repository is immutable.\"}]}";

    @TempDir
    Path tmp;
    HttpServer registry;
    final List<String> requests = new ArrayList<>();

    @BeforeEach
    void immutableRegistry() throws IOException {
        registry = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        registry.createContext("/", exchange -> {
            String method = exchange.getRequestMethod();
            String path = exchange.getRequestURI().getPath();
            synchronized (requests) {
                requests.add(method + " " + path);
            }
            exchange.getRequestBody().readAllBytes();
            exchange.getResponseHeaders().add("Docker-Distribution-API-Version", "registry/2.0");
            if (method.equals("HEAD") && path.contains("/blobs/")) {
                exchange.getResponseHeaders().add("Content-Length", "1");
                exchange.sendResponseHeaders(200, -1);
            } else if (method.equals("PUT") && path.contains("/manifests/")) {
                byte[] body = ECR_REFUSAL.getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().add("Content-Type", "application/json");
                exchange.sendResponseHeaders(400, body.length);
                exchange.getResponseBody().write(body);
            } else if (method.equals("POST") && path.endsWith("/blobs/uploads/")) {
                // kiln build's push permission check starts an upload and cancels it, as ECR allows
                exchange.getResponseHeaders().add("Location", path + "check");
                exchange.sendResponseHeaders(202, -1);
            } else if (method.equals("DELETE") && path.contains("/blobs/uploads/")) {
                exchange.sendResponseHeaders(204, -1);
            } else if (path.equals("/v2/")) {
                exchange.sendResponseHeaders(200, -1);
            } else {
                exchange.sendResponseHeaders(404, -1);
            }
            exchange.close();
        });
        registry.start();
    }

    @AfterEach
    void stop() {
        registry.stop(0);
    }

    private int build(ByteArrayOutputStream err, String... extra) throws IOException {
        Path context = Files.createDirectories(tmp.resolve("context"));
        Files.writeString(context.resolve("a.txt"), "a\n");
        Files.writeString(context.resolve("Dockerfile"), "FROM scratch\nCOPY a.txt /a.txt\n");
        List<String> args = new ArrayList<>(List.of("--context=" + context, "--destination=127.0.0.1:"
                + registry.getAddress().getPort() + "/app:1", "--insecure", "--digest-file=" + tmp.resolve("digest")));
        args.addAll(List.of(extra));
        PrintStream p = new PrintStream(err, true, StandardCharsets.UTF_8);
        return new CommandLine(new BuildCommand(p, p, new ByteArrayInputStream(new byte[0]), Map.of())).execute(args.toArray(String[]::new));
    }

    @Test
    void aRefusedImmutableTagFailsThePushByDefault() throws IOException {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(1, build(err), err.toString(StandardCharsets.UTF_8));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("cannot be overwritten because the repository is immutable"),
                err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void withTheFlagARefusedImmutableTagIsAWarningAndTheBuildSucceeds() throws IOException {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(0, build(err, "--push-ignore-immutable-tag-errors"), err.toString(StandardCharsets.UTF_8));
        String log = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, log.lines().filter(l -> l.contains("--push-ignore-immutable-tag-errors")).count(), log);
        assertTrue(requests.stream().anyMatch(r -> r.startsWith("PUT /v2/app/manifests/")), requests.toString());
        assertTrue(Files.readString(tmp.resolve("digest")).startsWith("sha256:"), "the digest file is written as after a push");
    }
}
