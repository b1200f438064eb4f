package dev.kiln.registry.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Registries redirect blob downloads to object storage; credentials must not follow to that host. */
class RedirectAuthTest {
    HttpServer registry;
    HttpServer storage;
    final List<String> registryAuth = new CopyOnWriteArrayList<>();
    final List<String> storageAuth = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws IOException {
        storage = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        storage.createContext("/bucket/blob", exchange -> {
            storageAuth.add(String.valueOf(exchange.getRequestHeaders().getFirst("Authorization")));
            byte[] body = "layer bytes".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        storage.start();
        registry = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        registry.createContext("/v2/", exchange -> {
            registryAuth.add(String.valueOf(exchange.getRequestHeaders().getFirst("Authorization")));
            // "localhost" is another host than "127.0.0.1" as far as the client can tell.
            exchange.getResponseHeaders().add("Location", "http://localhost:" + storage.getAddress().getPort() + "/bucket/blob");
            exchange.sendResponseHeaders(307, -1);
            exchange.close();
        });
        registry.start();
    }

    @AfterEach
    void stop() {
        registry.stop(0);
        storage.stop(0);
    }

    @Test
    void authorizationStaysWithTheRegistry() throws IOException {
        RegistryClient client = new RegistryClient(RegistryEndpoint.of("test", "http://127.0.0.1:" + registry.getAddress().getPort())
                .withCredentials(new Credentials("user", "secret")));
        try (UpstreamResponse response = client.get("lib/app", "/v2/lib/app/blobs/sha256:" + "a".repeat(64), Map.of())) {
            assertEquals(200, response.status());
            assertEquals("layer bytes", new String(response.body().readAllBytes(), StandardCharsets.UTF_8));
        }
        assertEquals(List.of(new Credentials("user", "secret").basicHeader()), registryAuth);
        assertEquals(List.of("null"), storageAuth);
    }
}
