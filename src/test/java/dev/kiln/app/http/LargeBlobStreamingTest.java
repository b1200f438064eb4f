package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.CONTENT_DIGEST;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.uri;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Layer-sized uploads and downloads, through the JDK client (rest-assured is too slow for these sizes). */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class LargeBlobStreamingTest {
    private static final int CHUNK = 8 << 20;
    private static final int CHUNKS = 8; // 64 MiB

    private static byte[] chunk(long seed, int index) {
        byte[] bytes = new byte[CHUNK];
        new Random(seed * 1000 + index).nextBytes(bytes);
        return bytes;
    }

    private static String hex(MessageDigest md) {
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    @Test
    void sixtyFourMebibytesInPatchChunksAndBack() throws Exception {
        String repo = repo("local", "large");
        long seed = System.nanoTime();
        MessageDigest sha = MessageDigest.getInstance("SHA-256");

        HttpResponse<byte[]> started = Registry.send(HttpRequest.newBuilder(uri("/v2/" + repo + "/blobs/uploads/"))
                .POST(HttpRequest.BodyPublishers.noBody()).build());
        assertEquals(202, started.statusCode());
        String location = started.headers().firstValue("Location").orElseThrow();

        for (int i = 0; i < CHUNKS; i++) {
            byte[] chunk = chunk(seed, i);
            sha.update(chunk);
            long start = (long) i * CHUNK;
            long end = start + CHUNK - 1;
            HttpRequest.Builder patch = HttpRequest.newBuilder(uri(location)).header("Content-Type", "application/octet-stream");
            if (i < CHUNKS - 1) {
                patch.header("Content-Range", start + "-" + end).method("PATCH", HttpRequest.BodyPublishers.ofByteArray(chunk));
            } else {
                // the last chunk streamed with chunked transfer encoding: no Content-Length, no Content-Range
                patch.method("PATCH", HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(chunk)));
            }
            HttpResponse<byte[]> patched = Registry.send(patch.build());
            assertEquals(202, patched.statusCode(), () -> new String(patched.body()));
            assertEquals("0-" + end, patched.headers().firstValue("Range").orElse(null));
            location = patched.headers().firstValue("Location").orElseThrow();
        }
        String digest = hex(sha);
        HttpResponse<byte[]> put = Registry.send(HttpRequest.newBuilder(uri(location + "?digest=" + digest))
                .PUT(HttpRequest.BodyPublishers.noBody()).build());
        assertEquals(201, put.statusCode(), () -> new String(put.body()));
        assertEquals(digest, put.headers().firstValue(CONTENT_DIGEST).orElse(null));

        HttpResponse<InputStream> got = Registry.http().send(HttpRequest.newBuilder(uri("/v2/" + repo + "/blobs/" + digest)).GET().build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, got.statusCode());
        assertEquals(String.valueOf((long) CHUNK * CHUNKS), got.headers().firstValue("Content-Length").orElse(null));
        MessageDigest downloaded = MessageDigest.getInstance("SHA-256");
        long total = 0;
        try (InputStream in = got.body()) {
            byte[] buffer = new byte[1 << 20];
            for (int n; (n = in.read(buffer)) > 0; ) {
                downloaded.update(buffer, 0, n);
                total += n;
            }
        }
        assertEquals((long) CHUNK * CHUNKS, total);
        assertEquals(digest, hex(downloaded));

        // a range across the boundary of two chunks
        long from = 3L * CHUNK - 1000;
        HttpResponse<byte[]> range = Registry.send(HttpRequest.newBuilder(uri("/v2/" + repo + "/blobs/" + digest))
                .header("Range", "bytes=" + from + "-" + (from + 1999)).GET().build());
        assertEquals(206, range.statusCode());
        byte[] expected = new byte[2000];
        System.arraycopy(chunk(seed, 2), CHUNK - 1000, expected, 0, 1000);
        System.arraycopy(chunk(seed, 3), 0, expected, 1000, 1000);
        assertArrayEquals(expected, range.body());
    }

    @Test
    void monolithicPostStreamedWithoutContentLength() throws IOException, Exception {
        String repo = repo("local", "largemono");
        byte[] content = Arrays.copyOf(chunk(System.nanoTime(), 0), 3 * CHUNK / 2 + 7);
        String digest = Registry.sha256(content);
        HttpResponse<byte[]> posted = Registry.send(HttpRequest.newBuilder(uri("/v2/" + repo + "/blobs/uploads/?digest=" + digest))
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(content))).build());
        assertEquals(201, posted.statusCode(), () -> new String(posted.body()));
        HttpResponse<byte[]> got = Registry.rawGet("/v2/" + repo + "/blobs/" + digest);
        assertEquals(200, got.statusCode());
        assertArrayEquals(content, got.body());
    }
}
