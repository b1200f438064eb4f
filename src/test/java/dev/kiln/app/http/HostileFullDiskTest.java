package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.request;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * A full disk answers 507 in each API's own format, and nothing half-written stays behind. The store
 * lives on a small tmpfs, which needs root to mount; elsewhere the test is skipped.
 */
@QuarkusTest
@TestProfile(HostileFullDiskTest.SmallDisk.class)
class HostileFullDiskTest {
    static final Path MOUNT = Path.of("target", "full-disk-store").toAbsolutePath();
    static boolean mounted;

    public static class SmallDisk implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            try {
                Files.createDirectories(MOUNT);
                run(List.of("umount", "-l", MOUNT.toString()));
                mounted = run(List.of("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", MOUNT.toString())) == 0;
            } catch (IOException e) {
                mounted = false;
            }
            return Map.of("kiln.store", MOUNT.resolve("store").toString());
        }
    }

    static int run(List<String> command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    @AfterAll
    static void unmount() {
        if (mounted) {
            run(List.of("umount", "-l", MOUNT.toString()));
        }
    }

    /** Fills the file system but for {@code leave} bytes. */
    private static void fill(long leave) throws IOException {
        Path filler = MOUNT.resolve("filler");
        long free = Files.getFileStore(MOUNT).getUsableSpace() - leave;
        try (OutputStream out = Files.newOutputStream(filler)) {
            byte[] block = new byte[64 * 1024];
            for (long written = 0; written + block.length <= free; written += block.length) {
                out.write(block);
            }
        } catch (IOException full) {
            // as full as it gets
        }
    }

    @Test
    void aBuildSubmittedOnAFullDiskAnswers507() throws Exception {
        assumeTrue(mounted, "needs root to mount a small tmpfs");
        fill(0);
        byte[] context = Registry.randomBytes(256 * 1024);
        io.restassured.response.Response submitted = request().contentType("application/gzip").body(context).post("/api/v1/builds");
        assertEquals(507, submitted.statusCode(), submitted.asString());
        submitted.then().contentType("application/problem+json")
                .body("type", equalTo("/api/v1/problems/insufficient-storage"))
                .body("detail", org.hamcrest.Matchers.not(org.hamcrest.Matchers.containsString("Exception")));
        try (var incoming = Files.list(MOUNT.resolve("store").resolve("builds").resolve(".incoming"))) {
            assertEquals(0, incoming.count(), "the refused upload left nothing");
        }
        String repo = Registry.repo("local", "full");
        byte[] blob = Registry.randomBytes(256 * 1024);
        request().contentType("application/octet-stream").body(blob).post("/v2/" + repo + "/blobs/uploads/?digest=" + Registry.sha256(blob))
                .then().statusCode(507).body("errors[0].code", equalTo("UNKNOWN"));
    }
}
