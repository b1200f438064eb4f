package dev.kiln.builder.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.exec.BuildException;
import dev.kiln.registry.mirror.MirrorService;
import dev.kiln.registry.mirror.MirrorStats;
import dev.kiln.registry.mirror.UpstreamRouter;
import dev.kiln.registry.server.NamespacePolicy;
import dev.kiln.registry.server.RegistryService;
import dev.kiln.store.Store;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The framework-free half of gateway builds: records on disk, queue, cancel, restart recovery, refused uploads. */
class BuildServiceTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path store;

    private final List<String> problems = new ArrayList<>();

    private BuildService open(BuildRunner runner, int maxConcurrent, long maxContextBytes) throws IOException {
        return new BuildService(new BuildFiles(store), runner, maxConcurrent, maxContextBytes, Clock.systemUTC(), problems::add);
    }

    /** The real runner over a real store in the test's directory, with no upstreams. */
    private ExecutorBuildRunner inProcessRunner() throws IOException {
        return inProcessRunner(new ExecutorBuildRunner.Settings(false, List.of(), store.resolve("base-cache"), "auto", null));
    }

    private ExecutorBuildRunner inProcessRunner(ExecutorBuildRunner.Settings settings) throws IOException {
        Store kiln = Store.openFilesystem(store);
        NamespacePolicy namespaces = new NamespacePolicy(List.of("cache", "builds", "local"));
        return new ExecutorBuildRunner(settings,
                new RegistryService(kiln, namespaces),
                new MirrorService(kiln, new MirrorStats(), Runnable::run, Duration.ofMinutes(5), Clock.systemUTC()),
                new UpstreamRouter(Map.of(), null, namespaces));
    }

    @Test
    void buildsThatWereQueuedOrRunningWhenTheProcessDiedAreMarkedFailedOnStart() throws IOException {
        BuildFiles files = new BuildFiles(store);
        BuildSpec spec = new BuildSpec(null, "Dockerfile", Map.of(), null, Map.of(), List.of(), false, null);
        Instant then = Instant.parse("2024-01-01T00:00:00Z");
        BuildRecord queued = BuildRecord.queued("00000000000000000001", spec, then);
        BuildRecord running = BuildRecord.queued("00000000000000000002", spec, then).running(then.plusSeconds(1))
                .withStep(new BuildRecord.Step("stage-0", 1, 3, "FROM scratch", 5, false));
        BuildRecord done = BuildRecord.queued("00000000000000000003", spec, then).running(then)
                .succeeded(then.plusSeconds(2), "sha256:" + "a".repeat(64), List.of("r/x@sha256:" + "a".repeat(64)),
                        new BuildReport(3, 2, 3, 420, 0, 9000, "cache/r/x", List.of(new BuildReport.Destination(
                                "r/x@sha256:" + "a".repeat(64), true, 1, 0, 3, 420, 9000))));
        for (BuildRecord r : List.of(queued, running, done)) {
            files.save(r);
        }
        Files.writeString(files.context(queued.id()), "left over");
        Files.createDirectories(files.work(running.id()).resolve("context"));
        Files.writeString(files.incoming().resolve("cut-short"), "half an upload");

        try (BuildService service = open(failingRunner(), 1, 1 << 20)) {
            BuildRecord q = service.require(queued.id());
            assertEquals(BuildState.FAILED, q.state());
            assertEquals(BuildService.RESTARTED, q.error());
            assertNotNull(q.finishedAt());
            BuildRecord r = service.require(running.id());
            assertEquals(BuildState.FAILED, r.state());
            assertEquals(1, r.steps().size(), "the steps that ran are kept");
            assertEquals(done, service.require(done.id()));
            assertTrue(Files.readString(files.log(running.id())).contains("gateway restarted while the build was running"));
            assertFalse(Files.exists(files.context(queued.id())));
            assertFalse(Files.exists(files.work(running.id())));
            assertEquals(List.of(), list(files.incoming()));
        }
        // and it is on disk, not only in memory
        try (BuildService again = open(failingRunner(), 1, 1 << 20)) {
            assertEquals(BuildState.FAILED, again.require(queued.id()).state());
            assertEquals(3, again.list(null).size());
            assertEquals(2, again.list(BuildState.FAILED).size());
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void scratchBuildRunsWithTheRealExecutorAndRecordsItsSteps(@TempDir Path ctx) throws Exception {
        Files.writeString(ctx.resolve("Dockerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\nLABEL a=b\n");
        Files.writeString(ctx.resolve("hello.txt"), "hello\n");
        Files.writeString(ctx.resolve("secret.txt"), "not sent\n");
        Files.writeString(ctx.resolve(".dockerignore"), "secret.txt\n");
        try (BuildService service = open(inProcessRunner(), 1, 1 << 20)) {
            BuildRecord submitted = service.submit(new BuildSpec(null, null, Map.of(), null, Map.of("x", "y"), List.of(), false, null),
                    archive(ctx), null);
            BuildRecord end = awaitEnd(service, submitted.id());
            String log = Files.readString(service.logFile(end.id()));
            assertEquals(BuildState.SUCCEEDED, end.state(), log);
            assertTrue(end.digest().startsWith("sha256:"), end.toString());
            assertEquals(List.of("FROM scratch", "COPY hello.txt /hello.txt", "LABEL a=b"),
                    end.steps().stream().map(BuildRecord.Step::instruction).toList());
            assertTrue(log.contains("STEP 2/3: COPY hello.txt /hello.txt"), log);
            assertEquals(1, end.report().layers(), end.toString());
            assertEquals(0, end.report().layersReused(), "nothing pushed: the COPY layer was built, not reused");
            assertEquals(List.of(), end.report().destinations());
            assertTrue(log.contains("build succeeded: " + end.digest()), log);
            assertFalse(Files.exists(new BuildFiles(store).context(end.id())), "the context goes once the build ended");
        }
    }

    @Test
    void theGatewaysLayerStoreSettingsReachItsBuilds(@TempDir Path ctx) throws Exception {
        // a COPY written without the root filesystem is kept as a layer; the COPY after it needs the files
        Files.writeString(ctx.resolve("Dockerfile"), "FROM scratch\nCOPY hello.txt /a\nCOPY hello.txt /b\n");
        Files.writeString(ctx.resolve("hello.txt"), "hello\n");
        ExecutorBuildRunner.Settings defaults = new ExecutorBuildRunner.Settings(false, List.of(), store.resolve("base-cache"), "auto", null);
        for (long budget : new long[] {1L << 30, 0}) {
            Path kept = store.resolve("kept-" + budget);
            try (BuildService service = open(inProcessRunner(defaults.withLayerStore(kept, budget)), 1, 1 << 20)) {
                BuildRecord end = awaitEnd(service, service.submit(new BuildSpec(null, null, Map.of(), null, Map.of(), List.of(),
                        false, null), archive(ctx), null).id());
                assertEquals(BuildState.SUCCEEDED, end.state(), Files.readString(service.logFile(end.id())));
            }
            boolean used = Files.isDirectory(kept) && !list(kept).isEmpty();
            assertEquals(budget > 0, used, "layer store " + kept + " with a budget of " + budget);
        }
    }

    @Test
    void waitingBuildsShowTheirPositionAndCancellingOneTakesItOutOfTheQueue() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch started = new CountDownLatch(1);
        BuildRunner blocking = job -> {
            started.countDown();
            try {
                while (!release.await(20, TimeUnit.MILLISECONDS)) {
                    if (job.cancellation().isCancelled()) {
                        throw new BuildException("killed");
                    }
                }
            } catch (InterruptedException e) {
                throw new BuildException("interrupted");
            }
            return new BuildRunner.Outcome("sha256:" + "b".repeat(64), List.of());
        };
        try (BuildService service = open(blocking, 1, 1 << 20)) {
            Path ctx = Files.createDirectories(store.resolve("ctx"));
            Files.writeString(ctx.resolve("Dockerfile"), "FROM scratch\n");
            BuildSpec spec = new BuildSpec(null, null, null, null, null, null, false, null);
            BuildRecord first = service.submit(spec, archive(ctx), null);
            BuildRecord second = service.submit(spec, archive(ctx), null);
            BuildRecord third = service.submit(spec, archive(ctx), null);
            assertTrue(started.await(WAIT.toSeconds(), TimeUnit.SECONDS));
            assertEquals(0, service.queuePosition(first.id()));
            assertEquals(1, service.queuePosition(second.id()));
            assertEquals(2, service.queuePosition(third.id()));

            BuildRecord cancelled = service.cancel(second.id());
            assertEquals(BuildState.CANCELLED, cancelled.state());
            assertEquals(1, service.queuePosition(third.id()));
            assertThrows(BuildRequestException.class, () -> service.cancel(second.id()));

            service.cancel(first.id());
            assertEquals(BuildState.CANCELLED, awaitEnd(service, first.id()).state());
            release.countDown();
            assertEquals(BuildState.SUCCEEDED, awaitEnd(service, third.id()).state());
            assertTrue(Files.readString(service.logFile(second.id())).contains("cancelled while queued"));
        }
    }

    @Test
    void refusedUploadsLeaveNoTrace(@TempDir Path ctx) throws Exception {
        Files.writeString(ctx.resolve("Dockerfile"), "FROM scratch\n");
        Files.write(ctx.resolve("big.bin"), new byte[64 * 1024]);
        Files.write(ctx.resolve("noise.bin"), randomBytes(64 * 1024));
        try (BuildService service = open(failingRunner(), 1, 32 * 1024)) {
            BuildSpec spec = new BuildSpec(null, null, null, null, null, null, false, null);
            BuildRequestException tooLarge = assertThrows(BuildRequestException.class,
                    () -> service.submit(spec, archive(ctx), null));
            assertEquals(413, tooLarge.status());

            BuildRequestException broken = assertThrows(BuildRequestException.class,
                    () -> service.submit(spec, new ByteArrayInputStream("not a tar at all".getBytes(StandardCharsets.UTF_8)), null));
            assertEquals("broken-context", broken.slug());

            Path small = Files.createDirectories(store.resolve("small"));
            Files.writeString(small.resolve("Dockerfile"), "FROM scratch\n");
            Files.write(small.resolve("data.bin"), randomBytes(8 * 1024));
            byte[] whole = archive(small).readAllBytes();
            BuildRequestException truncated = assertThrows(BuildRequestException.class,
                    () -> service.submit(spec, new ByteArrayInputStream(java.util.Arrays.copyOf(whole, whole.length / 2)), null));
            assertEquals("broken-context", truncated.slug());

            Path other = Files.createDirectories(store.resolve("other"));
            Files.writeString(other.resolve("Containerfile"), "FROM scratch\n");
            BuildRequestException missing = assertThrows(BuildRequestException.class,
                    () -> service.submit(spec, archive(other), null));
            assertEquals("missing-dockerfile", missing.slug());

            BuildRequestException escaping = assertThrows(BuildRequestException.class, () -> service.submit(
                    new BuildSpec(null, "../etc/passwd", null, null, null, null, false, null), archive(other), null));
            assertEquals(400, escaping.status());

            assertEquals(List.of(), service.list(null));
            assertEquals(List.of(".incoming"), list(store.resolve("builds")));
            assertEquals(List.of(), list(store.resolve("builds/.incoming")));
        }
    }

    private InputStream archive(Path ctx) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ContextArchive.write(ctx, "Dockerfile", out);
        return new ByteArrayInputStream(out.toByteArray());
    }

    private static byte[] randomBytes(int n) {
        byte[] bytes = new byte[n];
        new java.util.Random(7).nextBytes(bytes);
        return bytes;
    }

    private static BuildRunner failingRunner() {
        return job -> {
            throw new BuildException("this test runs no build");
        };
    }

    static BuildRecord awaitEnd(BuildService service, String id) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            BuildRecord record = service.require(id);
            if (record.state().ended()) {
                return record;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("build " + id + " did not end within " + WAIT + ": " + service.require(id));
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
