package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Tools;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ADD --checksum} through the packaged {@code kiln build}: a download whose digest is not the
 * one named fails the build with one line naming both digests, and nothing reaches the layer cache.
 */
class AddChecksumIT {
    private static final byte[] BODY = "remote content\n".getBytes(StandardCharsets.UTF_8);
    private static final String RIGHT = "sha256:c18243bcea0987f0dabe57a6714acda33fe58db2d6096c58a8b5be13ed378588";
    private static final String WRONG = "sha256:" + "1".repeat(64);

    @TempDir
    Path dir;

    @Test
    void aMismatchFailsTheBuildNamingBothDigestsAndCachesNothing() throws Exception {
        HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        http.createContext("/", exchange -> {
            exchange.sendResponseHeaders(200, BODY.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(BODY);
            }
        });
        http.start();
        try {
            String url = "http://127.0.0.1:" + http.getAddress().getPort() + "/remote.txt";
            Path cache = dir.resolve("cache");
            ExecResult wrong = build("FROM scratch\nADD --checksum=" + WRONG + " " + url + " /remote.txt\n", cache);
            assertEquals(1, wrong.exitCode(), wrong.output());
            assertTrue(wrong.output().contains("error: Dockerfile:2: ADD --checksum=" + WRONG + " " + url + " /remote.txt: "
                    + "checksum mismatch for " + url + ": expected " + WRONG
                    + ", downloaded " + RIGHT), wrong.output());
            assertEquals(0, cacheEntries(cache), "a failed checksum stored a cache entry");

            ExecResult right = build("FROM scratch\nADD --checksum=" + RIGHT + " " + url + " /remote.txt\n", cache);
            assertTrue(right.ok(), right.output());
            assertEquals(1, cacheEntries(cache), right.output());
        } finally {
            http.stop(0);
        }
    }

    private static int cacheEntries(Path layout) throws Exception {
        Path index = layout.resolve("index.json");
        return Files.exists(index) ? new ObjectMapper().readTree(index.toFile()).path("manifests").size() : 0;
    }

    private ExecResult build(String dockerfile, Path cache) throws Exception {
        Path context = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(context.resolve("Dockerfile"), dockerfile);
        return Tools.run(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                KilnProcess.jar().toString(), "build", "-c", context.toString(), "--no-push",
                "--tar-path", dir.resolve("image.tar").toString(), "--cache", "--cache-repo", "oci:" + cache), Map.of(), 300);
    }
}
