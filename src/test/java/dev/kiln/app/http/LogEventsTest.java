package dev.kiln.app.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.gateway.BuildFiles;
import dev.kiln.builder.gateway.BuildRecord;
import dev.kiln.builder.gateway.BuildRunner;
import dev.kiln.builder.gateway.BuildService;
import dev.kiln.builder.gateway.BuildSpec;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The log's event stream ends as the build does: the follower is woken by the record's change, not
 * by its next poll. The poll here is a minute long, so a stream that waited for it would end far
 * later than the bound.
 */
class LogEventsTest {
    private static final long POLL_MILLIS = 60_000;
    private static final Duration BOUND = Duration.ofSeconds(20);

    @TempDir
    Path store;

    @Test
    void theStreamEndsWhenTheBuildEndsNotAtTheNextPoll() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        BuildRunner runner = job -> {
            job.log().println("step one");
            started.countDown();
            try {
                release.await(2, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            job.log().println("step two");
            return new BuildRunner.Outcome("sha256:" + "b".repeat(64), List.of());
        };
        Vertx vertx = Vertx.vertx();
        List<String> problems = new ArrayList<>();
        try (BuildService builds = new BuildService(new BuildFiles(store), runner, 1, 1 << 20, Clock.systemUTC(), problems::add)) {
            BuildRecord build = builds.submit(new BuildSpec(null, null, Map.of(), null, Map.of(), List.of(), false, null),
                    context(), null);
            HttpServer server = vertx.createHttpServer()
                    .requestHandler(request -> LogEvents.follow(vertx, request.response(), builds, build.id(),
                            builds.logFile(build.id()), 0, POLL_MILLIS))
                    .listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertTrue(started.await(60, TimeUnit.SECONDS), "the build did not start: " + problems);
            HttpResponse<InputStream> response = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.actualPort() + "/")).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            List<String> lines = new ArrayList<>();
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                // the stream has shown what the log held and now waits on an idle build
                for (String line; (line = reader.readLine()) != null && !line.equals("data: step one"); ) {
                    lines.add(line);
                }
                long released = System.nanoTime();
                release.countDown();
                for (String line; (line = reader.readLine()) != null; ) {
                    lines.add(line);
                }
                Duration took = Duration.ofNanos(System.nanoTime() - released);
                String stream = String.join("\n", lines);
                assertTrue(took.compareTo(BOUND) < 0, "the stream ended " + took + " after the build was let go, not within "
                        + BOUND + " (the poll is " + POLL_MILLIS + " ms):\n" + stream);
                assertTrue(stream.contains("data: step two"), stream);
                assertTrue(stream.contains("event: end\ndata: {\"id\":\"" + build.id() + "\",\"state\":\"succeeded\""), stream);
            }
            assertEquals(List.of(), problems);
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    /** The stream a submission answers with opens with the record and says where the build waits while it waits. */
    @Test
    void aSubmissionsStreamSaysItsQueuePositionThenFollowsTheLog() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        BuildRunner runner = job -> {
            try {
                release.await(2, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            job.log().println("ran " + job.id());
            return new BuildRunner.Outcome("sha256:" + "c".repeat(64), List.of());
        };
        Vertx vertx = Vertx.vertx();
        List<String> problems = new ArrayList<>();
        BuildSpec spec = new BuildSpec(null, null, Map.of(), null, Map.of(), List.of(), false, null);
        try (BuildService builds = new BuildService(new BuildFiles(store), runner, 1, 1 << 20, Clock.systemUTC(), problems::add)) {
            BuildRecord first = builds.submit(spec, context(), null);
            BuildRecord second = builds.submit(spec, context(), null);
            HttpServer server = vertx.createHttpServer()
                    .requestHandler(request -> LogEvents.followSubmitted(vertx, request.response(), builds, second.id(),
                            builds.logFile(second.id()), "{\"id\":\"" + second.id() + "\"}", 50))
                    .listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            HttpResponse<InputStream> response = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.actualPort() + "/")).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            List<String> before = new ArrayList<>();
            List<String> after = new ArrayList<>();
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                for (String line; (line = reader.readLine()) != null && !line.equals("event: queued"); ) {
                    before.add(line);
                }
                // several polls while it waits: the position is said once
                Thread.sleep(300);
                release.countDown();
                for (String line; (line = reader.readLine()) != null; ) {
                    after.add(line);
                }
            }
            String opened = String.join("\n", before);
            String stream = String.join("\n", after);
            assertTrue(opened.startsWith("event: accepted\ndata: {\"id\":\"" + second.id() + "\"}\n"), opened);
            assertTrue(opened.contains("data: build " + second.id() + " queued"), opened);
            assertTrue(stream.startsWith("data: {\"queuePosition\":1}"), "right after the queued event: " + stream);
            assertEquals(-1, stream.indexOf("event: queued"), "one queued event, not one per poll: " + stream);
            assertTrue(stream.contains("data: ran " + second.id()), stream);
            assertTrue(stream.contains("event: end\ndata: {\"id\":\"" + second.id() + "\",\"state\":\"succeeded\""), stream);
            assertEquals("succeeded", builds.require(first.id()).state().wireName());
            assertEquals(List.of(), problems);
        } finally {
            release.countDown();
            vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    /** A context with a Dockerfile, written by the real tar. */
    private InputStream context() throws Exception {
        Path dir = Files.createDirectories(store.resolve("ctx"));
        Files.writeString(dir.resolve("Dockerfile"), "FROM scratch\n");
        return new java.io.ByteArrayInputStream(BuildApi.tarGz(dir));
    }
}
