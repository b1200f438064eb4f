package dev.kiln.builder.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.exec.BuildException;
import dev.kiln.registry.client.Credentials;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gateway builds against hostile submitters (issue 12): a build that never ends, a log flood, a
 * decompression bomb, one user filling the queue.
 */
class HostileBuildServiceTest {
    private static final BuildSpec SPEC = new BuildSpec(null, null, null, null, null, null, false, null);

    @TempDir
    Path store;

    private BuildService open(BuildRunner runner, BuildLimits limits) throws IOException {
        return new BuildService(new BuildFiles(store), runner, 4, 64L << 20, limits, Clock.systemUTC(), p -> { });
    }

    /** Runs until cancelled, as a RUN that sleeps forever would. */
    private static BuildRunner endless() {
        return job -> {
            while (!job.cancellation().isCancelled()) {
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new BuildException("interrupted");
                }
            }
            throw new BuildException("cancelled");
        };
    }

    @Test
    void aBuildThatNeverEndsFailsAtTheTimeout() throws Exception {
        Duration timeout = Duration.ofMillis(500);
        try (BuildService service = open(endless(), new BuildLimits(timeout, 1 << 20, 8, 1 << 30))) {
            BuildRecord end = awaitEnd(service, service.submit(SPEC, tar("FROM scratch\n", 0, false), null).id());
            assertEquals(BuildState.FAILED, end.state(), end.toString());
            assertTrue(end.error().contains("timed out after"), end.error());
            assertTrue(Files.readString(service.logFile(end.id())).contains("error: timed out after"));
        }
    }

    @Test
    void aLogFloodIsCutAtTheLimitWithOneMarker() throws Exception {
        long limit = 64 * 1024;
        BuildRunner flood = job -> {
            for (int i = 0; i < 200_000; i++) {
                job.log().println("line " + i + " of a RUN that prints without end");
            }
            throw new BuildException("done flooding");
        };
        try (BuildService service = open(flood, new BuildLimits(Duration.ofMinutes(5), limit, 8, 1 << 30))) {
            BuildRecord end = awaitEnd(service, service.submit(SPEC, tar("FROM scratch\n", 0, false), null).id());
            Path log = service.logFile(end.id());
            String text = Files.readString(log);
            assertTrue(Files.size(log) < limit + 1024, "log is " + Files.size(log) + " bytes");
            assertEquals(1, text.split(java.util.regex.Pattern.quote("[kiln: log truncated at " + limit), -1).length - 1, "one marker");
            assertTrue(text.strip().endsWith("error: done flooding"), "the outcome still gets in: " + text.substring(text.length() - 300));
        }
    }

    @Test
    void aDecompressionBombIsRefusedAtUploadWithoutUnpackingIt() throws Exception {
        long limit = 1 << 20;
        try (BuildService service = open(endless(), new BuildLimits(Duration.ofMinutes(5), 1 << 20, 8, limit))) {
            byte[] bomb = tar("FROM scratch\n", 256L << 20, true).readAllBytes();
            assertTrue(bomb.length < 1 << 20, "a small upload: " + bomb.length);
            long start = System.nanoTime();
            BuildRequestException e = assertThrows(BuildRequestException.class,
                    () -> service.submit(SPEC, new ByteArrayInputStream(bomb), null));
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertEquals(413, e.status());
            assertTrue(e.getMessage().contains("unpacks to more than " + limit), e.getMessage());
            assertTrue(millis < 10_000, "refused early, not after unpacking: " + millis + " ms");
            assertEquals(List.of(), service.list(null));
        }
    }

    @Test
    void oneUserCannotFillTheQueue() throws Exception {
        BuildRunner.Caller alice = new BuildRunner.Caller(List.of(), new Credentials("alice", "pw"));
        BuildRunner.Caller bob = new BuildRunner.Caller(List.of(), new Credentials("bob", "pw"));
        try (BuildService service = open(endless(), new BuildLimits(Duration.ofMinutes(5), 1 << 20, 2, 1 << 30))) {
            BuildRecord first = service.submit(SPEC, tar("FROM scratch\n", 0, false), alice);
            service.submit(SPEC, tar("FROM scratch\n", 0, false), alice);
            BuildRequestException refused = assertThrows(BuildRequestException.class,
                    () -> service.submit(SPEC, tar("FROM scratch\n", 0, false), alice));
            assertEquals(429, refused.status());
            assertTrue(refused.getMessage().contains("max-queued-per-user"), refused.getMessage());
            service.submit(SPEC, tar("FROM scratch\n", 0, false), bob); // others still get in
            service.cancel(first.id());
            awaitEnd(service, first.id());
            service.submit(SPEC, tar("FROM scratch\n", 0, false), alice); // a slot again once one ended
            assertEquals(4, service.list(null).size());
        }
    }

    /** A context with a Dockerfile and, when {@code zeros} > 0, a file of that many zero bytes. */
    private static InputStream tar(String dockerfile, long zeros, boolean gzip) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (var sink = gzip ? new GZIPOutputStream(bytes, 1 << 16) : bytes;
             TarArchiveOutputStream out = new TarArchiveOutputStream(sink)) {
            out.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            byte[] d = dockerfile.getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry e = new TarArchiveEntry("Dockerfile");
            e.setSize(d.length);
            out.putArchiveEntry(e);
            out.write(d);
            out.closeArchiveEntry();
            if (zeros > 0) {
                TarArchiveEntry z = new TarArchiveEntry("zeros");
                z.setSize(zeros);
                out.putArchiveEntry(z);
                byte[] block = new byte[1 << 16];
                for (long left = zeros; left > 0; left -= block.length) {
                    out.write(block, 0, (int) Math.min(block.length, left));
                }
                out.closeArchiveEntry();
            }
        }
        return new ByteArrayInputStream(bytes.toByteArray());
    }

    private static BuildRecord awaitEnd(BuildService service, String id) throws InterruptedException {
        return BuildServiceTest.awaitEnd(service, id);
    }
}
