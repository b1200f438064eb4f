package dev.kiln.registry.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.image.ImageConfig;
import dev.kiln.oci.image.ImageReference;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against a scripted registry: the Bearer scopes a mount asks for, and retries of failed downloads. */
class TokenScopeAndRetryTest {
    @TempDir
    Path dir;
    HttpServer server;
    String host;
    final List<String> tokenScopes = Collections.synchronizedList(new ArrayList<>());
    final List<String> requests = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger blobFailuresLeft = new AtomicInteger();
    byte[] config = ImageConfig.empty().toJson();
    Digest configDigest = Digest.sha256(config);
    byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":{\"mediaType\":\""
            + MediaTypes.OCI_CONFIG + "\",\"digest\":\"" + configDigest + "\",\"size\":" + config.length + "},\"layers\":[]}")
            .getBytes(StandardCharsets.UTF_8);

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        host = "127.0.0.1:" + server.getAddress().getPort();
        server.createContext("/token", ex -> {
            String query = ex.getRequestURI().getRawQuery();
            for (String part : query.split("&")) {
                if (part.startsWith("scope=")) {
                    tokenScopes.add(URLDecoder.decode(part.substring(6), StandardCharsets.UTF_8));
                }
            }
            respond(ex, 200, "{\"token\":\"t\",\"expires_in\":300}".getBytes(StandardCharsets.UTF_8), "application/json");
        });
        server.createContext("/v2/", this::registry);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private void registry(HttpExchange ex) throws IOException {
        ex.getRequestBody().readAllBytes();
        String method = ex.getRequestMethod();
        String path = ex.getRequestURI().getPath();
        requests.add(method + " " + ex.getRequestURI());
        if (!"Bearer t".equals(ex.getRequestHeaders().getFirst("Authorization"))) {
            ex.getResponseHeaders().add("WWW-Authenticate", "Bearer realm=\"http://" + host + "/token\",service=\"fake\"");
            respond(ex, 401, new byte[0], null);
        } else if (method.equals("HEAD") && path.contains("/blobs/")) {
            respond(ex, 404, new byte[0], null);
        } else if (method.equals("POST") && ex.getRequestURI().getQuery() != null && ex.getRequestURI().getQuery().contains("mount=")) {
            respond(ex, 201, new byte[0], null);
        } else if (method.equals("PUT") && path.contains("/manifests/")) {
            respond(ex, 201, new byte[0], null);
        } else if (method.equals("GET") && path.contains("/manifests/")) {
            respond(ex, 200, manifest, MediaTypes.OCI_MANIFEST);
        } else if (method.equals("GET") && path.endsWith("/blobs/" + configDigest)) {
            if (blobFailuresLeft.getAndDecrement() > 0) {
                respond(ex, 503, new byte[0], null);
            } else {
                respond(ex, 200, config, "application/octet-stream");
            }
        } else {
            respond(ex, 404, new byte[0], null);
        }
    }

    private static void respond(HttpExchange ex, int status, byte[] body, String type) throws IOException {
        if (type != null) {
            ex.getResponseHeaders().add("Content-Type", type);
        }
        boolean noBody = body.length == 0 || ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, noBody ? -1 : body.length);
        if (!noBody) {
            ex.getResponseBody().write(body);
        }
        ex.close();
    }

    private Registries registries() {
        return new Registries(Set.of(host), h -> Optional.empty(), Duration.ofSeconds(2), Duration.ofSeconds(5));
    }

    @Test
    void aMountAsksForPushOnTheTargetAndPullOnTheSourceInOneToken() throws IOException {
        Path file = Files.write(dir.resolve("config"), config);
        ImagePusher.Image image = new ImagePusher.Image(manifest, MediaTypes.OCI_MANIFEST,
                List.of(new PulledImage.Blob(new Descriptor(MediaTypes.OCI_CONFIG, configDigest, config.length), file)));
        ImagePusher.Result result = new ImagePusher(registries(), Retry.NONE).push(image,
                List.of(ImageReference.parse(host + "/dst/app:1")), ImageReference.parse(host + "/cache/app"));
        assertEquals(1, result.destinations().get(0).blobsMounted());
        assertTrue(tokenScopes.contains("repository:dst/app:pull,push"), tokenScopes.toString());
        assertTrue(tokenScopes.contains("repository:cache/app:pull"), tokenScopes.toString());
        assertTrue(requests.stream().anyMatch(r -> r.startsWith("POST /v2/dst/app/blobs/uploads/?mount=" + configDigest + "&from=cache/app")),
                requests.toString());
    }

    @Test
    void downloadsAreRetriedOnServerErrors() throws IOException {
        ImageReference ref = ImageReference.parse(host + "/r/app:1");
        blobFailuresLeft.set(2);
        IOException e = assertThrows(IOException.class, () -> new ImagePuller(registries(), MirrorRoutes.none(),
                new BlobCache(dir.resolve("c1")), new Retry(1, Duration.ofMillis(1))).pull(ref));
        assertTrue(e.getMessage().contains("503"), e.getMessage());
        blobFailuresLeft.set(2);
        PulledImage image = new ImagePuller(registries(), MirrorRoutes.none(), new BlobCache(dir.resolve("c2")),
                new Retry(2, Duration.ofMillis(1))).pull(ref);
        assertEquals(configDigest, image.configBlob().digest());
        assertEquals(ImageConfig.empty(), image.config());
    }
}
