package dev.kiln.app.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.Slowness;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The pump behind streamed blob responses (the mirror's cold path), on a real Vert.x server and a real
 * HTTP client. What it has handed to Vert.x but not yet written must stay bounded even while the
 * event loop is busy elsewhere: each such chunk becomes a direct buffer, and 20 cold pulls with a
 * capped direct memory once lost chunks that way and left clients waiting for an "unexpected EOF".
 */
class ResponsePumpTest {
    private static final int SIZE = 48 << 20;
    private static final long BLOCK_MILLIS = 1000;

    private Vertx vertx;
    private HttpServer server;
    private final AtomicLong readFromSource = new AtomicLong();
    private final AtomicLong readWhileLoopBlocked = new AtomicLong(-1);

    @BeforeEach
    void start() throws Exception {
        vertx = Vertx.vertx();
        server = vertx.createHttpServer().requestHandler(request -> {
            request.response().putHeader("Content-Length", Integer.toString(SIZE));
            ResponsePump.start(request, request.response(), new CountingSource(SIZE, readFromSource));
            // Then the event loop is busy with other connections: nothing the pump writes reaches the socket meanwhile.
            vertx.runOnContext(v -> {
                long before = readFromSource.get();
                sleep(BLOCK_MILLIS);
                readWhileLoopBlocked.set(readFromSource.get() - before);
            });
        }).listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void whatIsQueuedForTheClientStaysBoundedWhileTheEventLoopIsBusyAndTheBodyArrivesWhole() throws Exception {
        HttpClient client = HttpClient.newHttpClient();
        HttpResponse<InputStream> response = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.actualPort() + "/blob"))
                .timeout(Slowness.scale(java.time.Duration.ofSeconds(60))).build(), HttpResponse.BodyHandlers.ofInputStream());
        MessageDigest received = MessageDigest.getInstance("SHA-256");
        long length = 0;
        try (InputStream body = response.body()) {
            byte[] buffer = new byte[64 * 1024];
            for (int n; (n = body.read(buffer)) >= 0; ) {
                received.update(buffer, 0, n);
                length += n;
            }
        }
        assertEquals(200, response.statusCode());
        assertEquals(SIZE, length, "the whole body arrives");
        assertEquals(HexFormat.of().formatHex(expectedDigest()), HexFormat.of().formatHex(received.digest()), "byte for byte");
        long queued = readWhileLoopBlocked.get();
        assertTrue(queued >= 0, "the handler measured what the pump read while the loop was blocked");
        assertTrue(queued <= ResponsePump.MAX_IN_FLIGHT + 128 * 1024,
                "while the event loop could write nothing the pump read " + queued + " bytes of its source for the client"
                        + " (bound " + ResponsePump.MAX_IN_FLIGHT + "): it queues without limit");
    }

    private static byte[] expectedDigest() throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        try (InputStream in = new CountingSource(SIZE, new AtomicLong())) {
            byte[] buffer = new byte[64 * 1024];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return digest.digest();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Pseudo-random bytes, as fast as a cached file, counting what has been read. */
    private static final class CountingSource extends InputStream {
        private final Random random = new Random(13);
        private final AtomicLong read;
        private long left;

        CountingSource(long size, AtomicLong read) {
            this.left = size;
            this.read = read;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] target, int offset, int length) {
            if (left == 0) {
                return -1;
            }
            int n = (int) Math.min(length, left);
            byte[] bytes = new byte[n];
            random.nextBytes(bytes);
            System.arraycopy(bytes, 0, target, offset, n);
            left -= n;
            read.addAndGet(n);
            return n;
        }
    }
}
