package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Http;
import dev.kiln.testkit.TestImages;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store on an 8 MiB tmpfs, mounted in a private mount namespace that only the server sees: an
 * upload that does not fit must end in an OCI error, leave nothing behind and not be visible.
 */
class DiskFullIT {
    private static final int MIB = 1 << 20;
    private static final String REPO = "local/full";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path work;

    KilnProcess kiln;
    Http http;
    Path store;

    @BeforeEach
    void startOnTinyTmpfs() throws IOException {
        assumeTrue(Tools.isRoot(), "DiskFullIT mounts a tmpfs in a private mount namespace (unshare --mount), which needs root");
        Path unshare = Tools.require("unshare", "util-linux");
        store = work.resolve("store");
        Files.createDirectories(store);
        // unshare execs sh, which mounts the tmpfs over the store and execs java: kill() still hits the JVM itself.
        List<String> prefix = List.of(unshare.toString(), "--mount", "--propagation", "private", "sh", "-c",
                "mount -t tmpfs -o size=8m kiln-it-full \"$0\" && exec \"$@\"", store.toString());
        kiln = KilnProcess.start("disk-full", prefix, store);
        http = Http.at(kiln.baseUrl(), Duration.ofSeconds(60));
        assertTrue(Files.isDirectory(storeSeenByServer().resolve("blobs")), "the server's store is the tmpfs");
        assertTrue(!Files.exists(store.resolve("blobs")), "the tmpfs is private to the server's mount namespace");
    }

    @AfterEach
    void stop() {
        if (kiln != null) {
            kiln.stop();
        }
    }

    /** The store as the server sees it: through its own root, inside its mount namespace. */
    private Path storeSeenByServer() {
        return Path.of("/proc/" + kiln.pid() + "/root").resolve(store.toString().substring(1));
    }

    private long freeBytes() throws IOException {
        return Files.getFileStore(storeSeenByServer()).getUsableSpace();
    }

    private void assertNothingLeftBehind() throws IOException {
        for (String dir : List.of("tmp", "uploads")) {
            try (Stream<Path> files = Files.list(storeSeenByServer().resolve(dir))) {
                assertEquals(List.of(), files.toList(), "partial files in " + dir + "/");
            }
        }
    }

    private static byte[] random(int size, long seed) {
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        return data;
    }

    private static void assertStoreFullError(HttpResponse<String> response) throws IOException {
        assertTrue(response.statusCode() >= 400, "an upload that does not fit must fail, got " + response.statusCode()
                + " " + response.body());
        assertEquals(507, response.statusCode(), response.body());
        assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), response.headers().map().toString());
        JsonNode errors = JSON.readTree(response.body()).get("errors");
        assertNotNull(errors, "OCI error JSON: " + response.body());
        assertEquals(1, errors.size(), response.body());
        assertTrue(errors.get(0).hasNonNull("code"), response.body());
        assertTrue(errors.get(0).get("message").asText().length() > 0, response.body());
    }

    private void assertUploadsFine(byte[] data) throws IOException, InterruptedException {
        HttpResponse<String> ok = http.monolithic(REPO, data);
        assertEquals(201, ok.statusCode(), ok.body() + "; free bytes now " + freeBytes());
        HttpResponse<byte[]> back = http.getBlob(REPO, TestImages.sha256(data));
        assertEquals(200, back.statusCode());
        assertEquals(TestImages.sha256(data), TestImages.sha256(back.body()));
    }

    private void assertInvisible(String digest) throws IOException, InterruptedException {
        assertEquals(404, http.head("v2/" + REPO + "/blobs/" + digest).statusCode());
        HttpResponse<String> get = http.getText("v2/" + REPO + "/blobs/" + digest);
        assertEquals(404, get.statusCode());
        assertEquals("BLOB_UNKNOWN", JSON.readTree(get.body()).get("errors").get(0).get("code").asText());
    }

    @Test
    void chunkedUploadThatDoesNotFitFailsAndLeavesNothing() throws Exception {
        long freeAtStart = freeBytes();
        byte[] big = random(12 * MIB, 1);
        String bigDigest = TestImages.sha256(big);

        // POST, then 4 MiB PATCHes: one of them hits ENOSPC.
        HttpResponse<String> start = http.request(HttpRequest.newBuilder(http.url("v2/" + REPO + "/blobs/uploads/"))
                .POST(HttpRequest.BodyPublishers.noBody()));
        assertEquals(202, start.statusCode());
        String location = start.headers().firstValue("Location").orElseThrow();
        HttpResponse<String> failed = http.chunked(REPO, big, 4 * MIB);
        assertStoreFullError(failed);
        assertEquals(200, http.getText("v2/").statusCode(), "the server is still up");

        // The empty session opened above is still there; the failed one is gone.
        assertEquals(204, http.getText(location).statusCode());
        assertNothingLeftBehindExcept(location);
        assertTrue(freeBytes() >= freeAtStart - MIB, "space came back: " + freeBytes() + " of " + freeAtStart);

        assertUploadsFine(random(5 * MIB, 2));
        assertInvisible(bigDigest);
    }

    private void assertNothingLeftBehindExcept(String openSession) throws IOException {
        String id = openSession.substring(openSession.lastIndexOf('/') + 1);
        try (Stream<Path> files = Files.list(storeSeenByServer().resolve("uploads"))) {
            assertEquals(List.of(id), files.map(p -> p.getFileName().toString()).toList(), "upload sessions left");
        }
        try (Stream<Path> files = Files.list(storeSeenByServer().resolve("tmp"))) {
            assertEquals(List.of(), files.toList(), "temp files left");
        }
    }

    @Test
    void monolithicUploadThatDoesNotFitFailsAndLeavesNothing() throws Exception {
        byte[] big = random(12 * MIB, 3);
        String bigDigest = TestImages.sha256(big);
        assertStoreFullError(http.monolithic(REPO, big));
        assertNothingLeftBehind();
        assertUploadsFine(random(5 * MIB, 4));
        assertInvisible(bigDigest);

        // Again with 5 MiB stored: only the ~3 MiB left are free, so a 2 MiB blob fits only if the
        // second failed attempt removed its partial file.
        assertStoreFullError(http.monolithic(REPO, big));
        assertNothingLeftBehind();
        assertUploadsFine(random(2 * MIB, 5));
        assertInvisible(bigDigest);
    }
}
