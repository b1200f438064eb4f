package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.pushBlob;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Many request bodies that arrive a byte at a time must not starve the registry: the gateway reads
 * them on the event loop and hands the store only bytes that already arrived. The worker pool is made
 * small here so that the old behaviour (one worker blocked per slow body) shows with few connections.
 */
@QuarkusTest
@TestProfile(HostileSlowBodiesTest.SmallWorkerPool.class)
@WithTestResource(WipeTestStore.class)
class HostileSlowBodiesTest {
    static final int WORKERS = 16;
    static final int SLOW = 4 * WORKERS;

    public static class SmallWorkerPool implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkus.thread-pool.max-threads", String.valueOf(WORKERS),
                    "kiln.limits.max-open-uploads-per-client", String.valueOf(SLOW + 10));
        }
    }

    @Test
    void slowBlobBodiesLeaveTheRegistryAnswering() throws Exception {
        String repo = repo("local", "slow");
        byte[] small = randomBytes(100);
        String digest = pushBlob(repo, small);
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < SLOW; i++) {
                Socket socket = RawHttp.connect();
                slow.add(socket);
                RawHttp.write(socket, "POST /v2/" + repo + "/blobs/uploads/?digest=sha256:" + "0".repeat(64) + " HTTP/1.1\r\n"
                        + "Host: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\nab");
            }
            for (int round = 0; round < 2; round++) { // a byte more each: slow, not idle
                Thread.sleep(300);
                for (Socket socket : slow) {
                    RawHttp.write(socket, "c");
                }
            }
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            long start = System.nanoTime();
            HttpResponse<byte[]> ping = client.send(HttpRequest.newBuilder(URI.create(BuildApi.url("/v2/")))
                    .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, ping.statusCode());
            HttpResponse<byte[]> blob = client.send(HttpRequest.newBuilder(URI.create(BuildApi.url("/v2/" + repo + "/blobs/" + digest)))
                    .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, blob.statusCode());
            // a push, whose store work needs a worker, gets one too
            pushBlob(repo, randomBytes(200));
            System.out.printf("with %d slow bodies open, ping + pull + push took %d ms%n", SLOW,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        } finally {
            for (Socket socket : slow) {
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // closing is all that is left to do
                }
            }
        }
    }
}
