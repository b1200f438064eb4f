package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.repo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A connection that stops sending is closed, and one client cannot hold more than its share of open uploads. */
@QuarkusTest
@TestProfile(HostileConnectionLimitsTest.Limits.class)
@WithTestResource(WipeTestStore.class)
class HostileConnectionLimitsTest {
    static final int PER_CLIENT = 3;

    public static class Limits implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("kiln.limits.idle-timeout", "2s", "kiln.limits.max-open-uploads-per-client", String.valueOf(PER_CLIENT));
        }
    }

    @Test
    void aClientThatStopsHalfwayThroughItsHeadersIsCutOff() throws Exception {
        try (Socket socket = RawHttp.connect()) {
            RawHttp.write(socket, "GET /v2/ HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
            socket.setSoTimeout(30_000);
            long start = System.nanoTime();
            int read;
            try (InputStream in = socket.getInputStream()) {
                read = in.read();
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the connection was still open after 30 s without a byte from the client");
            } catch (IOException reset) {
                read = -1;
            }
            long seconds = (System.nanoTime() - start) / 1_000_000_000L;
            assertEquals(-1, read, "the server closes the connection rather than answering half a request");
            assertTrue(seconds >= 1, "closed after " + seconds + " s: the idle timeout is 2 s, not immediate");
        }
    }

    @Test
    void openUploadsPerClientAreBounded() throws Exception {
        String repo = repo("local", "limits");
        List<Socket> open = new ArrayList<>();
        String start = "POST /v2/" + repo + "/blobs/uploads/?digest=sha256:" + "1".repeat(64) + " HTTP/1.1\r\nHost: localhost\r\n"
                + "Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\nx";
        try {
            for (int i = 0; i < PER_CLIENT; i++) {
                Socket socket = RawHttp.connect();
                open.add(socket);
                RawHttp.write(socket, start);
            }
            Thread.sleep(500);
            String refused = RawHttp.exchange(start, 10_000);
            assertEquals(429, RawHttp.status(refused), refused);
            assertTrue(refused.contains("Retry-After") || refused.contains("retry-after"), refused);
            assertEquals("TOOMANYREQUESTS", Registry.error(RawHttp.body(refused).getBytes(StandardCharsets.UTF_8)).get("code").asText());
        } finally {
            for (Socket socket : open) {
                socket.close();
            }
        }
        // the slots come back when the uploads end
        Thread.sleep(500);
        Registry.pushBlob(repo, Registry.randomBytes(10));
    }
}
