package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Http;
import dev.kiln.testkit.Slowness;
import dev.kiln.testkit.TestImages;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGKILL the server while 16 uploads of 1–32 MiB are in flight, restart it on the same store, and
 * check that what was acknowledged is there, that nothing half-written is visible, and that fsck
 * finds the store clean.
 */
class CrashSafetyIT {
    private static final int UPLOADS = 16;
    private static final int MIB = 1 << 20;
    private static final String REPO = "local/crash";

    @TempDir
    Path work;

    enum Kind { MONOLITHIC, CHUNKED, STREAMED }

    record Upload(int index, Kind kind, byte[] data, String digest) {
        @Override
        public String toString() {
            return "#" + index + " " + kind + " " + data.length + " bytes " + digest;
        }
    }

    record Outcome(Upload upload, int status, String detail, String session) {
        boolean acknowledged() {
            return status == 201;
        }
    }

    @Test
    void killAfter100Milliseconds() throws Exception {
        crashRound("crash-100ms", 1, 0);
    }

    @Test
    void killRightAfterTheFirstAcknowledgedUpload() throws Exception {
        crashRound("crash-first-201", 2, 1);
    }

    @Test
    void killWhenHalfTheUploadsAreAcknowledged() throws Exception {
        crashRound("crash-half-201", 3, UPLOADS / 2);
    }

    /**
     * @param killAfterAcks 0: kill 100 ms after the uploads start; else kill as soon as this many got 201
     */
    private void crashRound(String name, long seed, int killAfterAcks) throws Exception {
        Path store = work.resolve("store");
        List<Upload> uploads = makeUploads(new Random(seed));
        List<Outcome> outcomes = new ArrayList<>();
        long killedAtMillis;
        KilnProcess kiln = KilnProcess.start(name, store);
        try {
            Http http = Http.at(kiln.baseUrl(), Slowness.scale(Duration.ofSeconds(60)));
            CountDownLatch go = new CountDownLatch(1);
            CountDownLatch acks = new CountDownLatch(Math.max(1, killAfterAcks));
            ExecutorService pool = Executors.newFixedThreadPool(UPLOADS);
            try {
                List<Future<Outcome>> futures = new ArrayList<>();
                for (Upload upload : uploads) {
                    futures.add(pool.submit(() -> {
                        go.await();
                        Outcome outcome = send(http, upload);
                        if (outcome.acknowledged()) {
                            acks.countDown();
                        }
                        return outcome;
                    }));
                }
                long started = System.nanoTime();
                go.countDown();
                if (killAfterAcks == 0) {
                    Thread.sleep(100);
                } else {
                    Duration ackTimeout = Slowness.scale(Duration.ofSeconds(120));
                    assertTrue(acks.await(ackTimeout.toSeconds(), TimeUnit.SECONDS), killAfterAcks + " uploads were not acknowledged within "
                            + ackTimeout.toSeconds() + " s (" + Slowness.describe() + "); log:\n" + kiln.logTail());
                }
                kiln.kill();
                killedAtMillis = (System.nanoTime() - started) / 1_000_000;
                for (Future<Outcome> future : futures) {
                    outcomes.add(future.get(Slowness.scale(Duration.ofSeconds(120)).toSeconds(), TimeUnit.SECONDS));
                }
            } finally {
                pool.shutdownNow();
            }
        } finally {
            kiln.close();
        }

        List<Outcome> acknowledged = outcomes.stream().filter(Outcome::acknowledged).toList();
        List<Outcome> interrupted = outcomes.stream().filter(o -> !o.acknowledged()).toList();
        String summary = "killed after " + killedAtMillis + " ms; outcomes:\n"
                + String.join("\n", outcomes.stream().map(o -> o.upload() + " -> " + o.status() + " " + o.detail()).toList());
        System.out.println(name + ": " + acknowledged.size() + " acknowledged, " + interrupted.size() + " interrupted, " + summary);
        assertTrue(!interrupted.isEmpty(), "the kill came too late to interrupt anything: " + summary);
        for (Outcome outcome : outcomes) {
            assertTrue(outcome.status() == 201 || outcome.status() == -1,
                    "before the kill every answer is 201, after it there is none: " + summary);
        }
        assertTrue(acknowledged.size() >= killAfterAcks, summary);

        KilnProcess restarted = KilnProcess.start(name + "-restarted", store);
        try {
            ExecResult fsck = KilnProcess.fsck(store);
            assertEquals(0, fsck.exitCode(), "fsck after the crash:\n" + fsck.output() + "\n" + summary);
            assertTrue(fsck.stdout().contains(": 0 corrupt, 0 dangling"), "fsck after the crash:\n" + fsck.output() + "\n" + summary);

            Http http = Http.at(restarted.baseUrl(), Slowness.scale(Duration.ofSeconds(120)));
            for (Outcome outcome : acknowledged) {
                Upload upload = outcome.upload();
                HttpResponse<byte[]> blob = http.getBlob(REPO, upload.digest());
                assertEquals(200, blob.statusCode(), "acknowledged upload " + upload + " is lost; " + summary
                        + "\nrestarted server's log:\n" + restarted.logTail());
                assertEquals(upload.data().length, blob.body().length, "size of " + upload + "; " + summary);
                assertEquals(upload.digest(), TestImages.sha256(blob.body()), "content of " + upload + "; " + summary);
            }
            for (Outcome outcome : interrupted) {
                Upload upload = outcome.upload();
                HttpResponse<byte[]> blob = http.getBlob(REPO, upload.digest());
                if (blob.statusCode() == 200) {
                    // It may have been committed just before the kill: then it must be whole.
                    assertEquals(upload.digest(), TestImages.sha256(blob.body()), "half-visible blob " + upload + "; " + summary);
                } else {
                    assertEquals(404, blob.statusCode(), "blob " + upload + " after the restart; " + summary
                            + "\nrestarted server's log:\n" + restarted.logTail());
                }
                Path file = store.resolve("blobs/sha256").resolve(upload.digest().substring(7, 9)).resolve(upload.digest().substring(7));
                if (Files.exists(file)) {
                    assertEquals(upload.digest(), TestImages.sha256(file), "blob file of " + upload + "; " + summary);
                }
            }

            // Upload sessions the crash interrupted are still resumable: what was written is a prefix of what was sent.
            int resumed = 0;
            for (Outcome outcome : interrupted) {
                if (outcome.session() != null && resume(http, outcome)) {
                    resumed++;
                }
            }
            System.out.println(name + ": resumed " + resumed + " interrupted upload sessions after the restart");

            // The restarted server takes new uploads of every kind.
            Random random = new Random(seed + 100);
            int index = 100;
            for (Kind kind : Kind.values()) {
                byte[] data = new byte[MIB + random.nextInt(3 * MIB)];
                random.nextBytes(data);
                Upload upload = new Upload(index++, kind, data, TestImages.sha256(data));
                Outcome outcome = send(http, upload);
                assertEquals(201, outcome.status(), "after the restart, " + upload + ": " + outcome.detail()
                        + "\nrestarted server's log:\n" + restarted.logTail());
                HttpResponse<byte[]> blob = http.getBlob(REPO, upload.digest());
                assertEquals(200, blob.statusCode(), "after the restart, GET " + upload + "\nrestarted server's log:\n" + restarted.logTail());
                assertEquals(upload.digest(), TestImages.sha256(blob.body()), "after the restart, content of " + upload);
            }
        } finally {
            restarted.stop();
        }
    }

    /**
     * Finishes an interrupted session from the offset the server reports; false when the session is gone
     * (never written, or committed just before the kill).
     */
    private static boolean resume(Http http, Outcome outcome) throws IOException, InterruptedException {
        Upload upload = outcome.upload();
        HttpResponse<String> status = http.getText(outcome.session());
        if (status.statusCode() == 404) {
            return false;
        }
        assertEquals(204, status.statusCode(), "status of " + upload + ": " + status.body());
        String range = status.headers().firstValue("Range").orElseThrow();
        long end = Long.parseLong(range.substring(range.indexOf('-') + 1));
        // "0-0" is both "nothing yet" and "one byte", as in distribution: try both.
        for (long offset : end == 0 ? new long[] {0, 1} : new long[] {end + 1}) {
            String location = outcome.session();
            if (offset < upload.data().length) {
                HttpResponse<String> patch = http.request(HttpRequest.newBuilder(http.url(location))
                        .header("Content-Range", offset + "-" + (upload.data().length - 1))
                        .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(upload.data(), (int) offset,
                                upload.data().length - (int) offset)));
                if (patch.statusCode() == 416 && end == 0 && offset == 0) {
                    continue;
                }
                assertEquals(202, patch.statusCode(), "resuming " + upload + " at " + offset + ": " + patch.body());
                location = patch.headers().firstValue("Location").orElse(location);
            }
            HttpResponse<String> put = http.request(HttpRequest.newBuilder(http.url(location + "?digest=" + upload.digest()))
                    .PUT(HttpRequest.BodyPublishers.noBody()));
            assertEquals(201, put.statusCode(), "completing " + upload + " resumed at " + offset + ": " + put.body());
            HttpResponse<byte[]> blob = http.getBlob(REPO, upload.digest());
            assertEquals(200, blob.statusCode());
            assertEquals(upload.digest(), TestImages.sha256(blob.body()), "resumed " + upload);
            return true;
        }
        throw new AssertionError("could not resume " + upload);
    }

    private static List<Upload> makeUploads(Random random) {
        List<Upload> uploads = new ArrayList<>();
        for (int i = 0; i < UPLOADS; i++) {
            byte[] data = new byte[MIB + random.nextInt(31 * MIB + 1)];
            random.nextBytes(data);
            uploads.add(new Upload(i, Kind.values()[i % Kind.values().length], data, TestImages.sha256(data)));
        }
        return uploads;
    }

    /** One upload; status -1 when the connection failed (the server died under it). */
    private static Outcome send(Http http, Upload upload) {
        AtomicReference<String> session = new AtomicReference<>();
        try {
            HttpResponse<String> response = switch (upload.kind()) {
                case MONOLITHIC -> http.monolithic(REPO, upload.data());
                case CHUNKED -> http.chunked(REPO, upload.data(), 4 * MIB, session::set);
                case STREAMED -> streamed(http, upload.data(), session::set);
            };
            return new Outcome(upload, response.statusCode(), response.body(), session.get());
        } catch (IOException e) {
            return new Outcome(upload, -1, e.toString(), session.get());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Outcome(upload, -1, e.toString(), session.get());
        }
    }

    /** As skopeo pushes: POST, one PATCH with a chunked (length-less) body, PUT ?digest= without body. */
    private static HttpResponse<String> streamed(Http http, byte[] data, Consumer<String> session)
            throws IOException, InterruptedException {
        HttpResponse<String> start = http.request(HttpRequest.newBuilder(http.url("v2/" + REPO + "/blobs/uploads/"))
                .POST(HttpRequest.BodyPublishers.noBody()));
        if (start.statusCode() != 202) {
            return start;
        }
        String location = start.headers().firstValue("Location").orElseThrow();
        session.accept(location);
        HttpResponse<String> patch = http.request(HttpRequest.newBuilder(http.url(location))
                .method("PATCH", HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(data))));
        if (patch.statusCode() != 202) {
            return patch;
        }
        location = patch.headers().firstValue("Location").orElse(location);
        return http.request(HttpRequest.newBuilder(http.url(location + "?digest=" + TestImages.sha256(data)))
                .PUT(HttpRequest.BodyPublishers.noBody()));
    }
}
