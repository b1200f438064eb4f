package dev.kiln.builder.steps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.oci.Digest;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ADD --checksum on an http(s) source, against a local HTTP server. */
class UrlDownloadsChecksumTest {
    private static final byte[] BODY = "remote content\n".getBytes(StandardCharsets.UTF_8);
    @TempDir
    Path dir;
    HttpServer server;
    final AtomicInteger requests = new AtomicInteger();

    @BeforeEach
    void serve() throws Exception {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            requests.incrementAndGet();
            exchange.sendResponseHeaders(200, BODY.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(BODY);
            }
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/remote.txt";
    }

    @Test
    void aMatchingChecksumGivesTheFile() throws Exception {
        UrlDownloads downloads = new UrlDownloads(dir, e -> { });
        Path file = downloads.download(url(), Digest.sha256(BODY).toString());
        assertEquals("remote content\n", Files.readString(file));
    }

    @Test
    void aMismatchNamesBothDigestsAndKeepsNothing() throws Exception {
        UrlDownloads downloads = new UrlDownloads(dir, e -> { });
        String wrong = "sha256:" + "0".repeat(64);
        BuildException e = assertThrows(BuildException.class, () -> downloads.download(url(), wrong));
        assertEquals("checksum mismatch for " + url() + ": expected " + wrong + ", downloaded " + Digest.sha256(BODY),
                e.getMessage());
        try (var files = Files.walk(dir)) {
            assertFalse(files.anyMatch(p -> p.getFileName().toString().equals("remote.txt")), "the download is dropped");
        }
        assertThrows(BuildException.class, () -> downloads.digest(url(), wrong));
        assertEquals(2, requests.get(), "a mismatched download is not reused");
    }

    @Test
    void aMalformedChecksumIsALine() {
        UrlDownloads downloads = new UrlDownloads(dir, e -> { });
        BuildException e = assertThrows(BuildException.class, () -> downloads.download(url(), "md5:abc"));
        assertTrue(e.getMessage().startsWith("invalid --checksum md5:abc"), e.getMessage());
    }
}
