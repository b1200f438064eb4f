package dev.kiln.builder.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.sandbox.Cancellation;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One gateway build run to its end by {@link BuildExecution}: how it ended (succeeded, failed, timed
 * out, cancelled, stopped with the gateway, detached) told apart, its steps and states recorded as
 * they happen, and its log's last line written however full the log is. The runner here is the
 * test's own {@link BuildRunner}: what a build does is not this class's business, how it ends is.
 */
class BuildExecutionTest {
    private static final BuildSpec SPEC = new BuildSpec("git://git.example/app.git#main", "Dockerfile", Map.of(), null,
            Map.of(), List.of("local/app:1"), false, null);
    private static final String DIGEST = "sha256:" + "b".repeat(64);
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path store;

    private final ScheduledExecutorService alarms = Executors.newSingleThreadScheduledExecutor();
    private final List<String> problems = Collections.synchronizedList(new ArrayList<>());
    private final List<String> told = Collections.synchronizedList(new ArrayList<>());
    private final AtomicBoolean stopping = new AtomicBoolean();
    private BuildFiles files;
    private BuildRecords records;

    @AfterEach
    void stopAlarms() {
        alarms.shutdownNow();
    }

    private BuildExecution execution(BuildRunner runner, BuildLimits limits) throws IOException {
        files = new BuildFiles(store);
        records = new BuildRecords(files, problems::add);
        records.listen((before, after) -> told.add(after.state().wireName() + ":" + after.steps().size()));
        return new BuildExecution(files, runner, limits, Clock.systemUTC(), records, alarms, stopping::get, problems::add);
    }

    private BuildExecution execution(BuildRunner runner) throws IOException {
        return execution(runner, BuildLimits.DEFAULT);
    }

    private String queued(int n) throws IOException {
        String id = String.format("%020x", n);
        records.save(BuildRecord.queued(id, SPEC, Clock.systemUTC().instant()));
        told.clear();
        return id;
    }

    private String log(String id) throws IOException {
        return Files.readString(files.log(id), StandardCharsets.UTF_8);
    }

    private static BuildEvent.StepFinished step(int n, boolean cached) {
        return new BuildEvent.StepFinished("build", n, 3, "RUN step " + n, Duration.ofMillis(5 * n), cached);
    }

    /** A runner that waits until the build is cancelled, as a long RUN does. */
    private static BuildRunner untilCancelled(CountDownLatch started) {
        return job -> {
            CountDownLatch cancelled = new CountDownLatch(1);
            job.cancellation().onCancel(cancelled::countDown);
            started.countDown();
            try {
                if (!cancelled.await(WAIT.toSeconds(), TimeUnit.SECONDS)) {
                    throw new BuildException("never cancelled");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new BuildException("RUN killed");
        };
    }

    /** Runs {@code action} on a thread of its own once {@code started} opens. */
    private static Thread once(CountDownLatch started, Runnable action) {
        Thread thread = new Thread(() -> {
            try {
                if (started.await(WAIT.toSeconds(), TimeUnit.SECONDS)) {
                    action.run();
                }
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        });
        thread.start();
        return thread;
    }

    @Test
    void aSucceedingBuildRecordsItsStepsAsTheyFinishThenItsImage() throws Exception {
        BuildExecution execution = execution(job -> {
            job.log().println("doing the work");
            job.steps().accept(step(1, false));
            job.steps().accept(step(2, true));
            assertTrue(Files.isDirectory(job.workDir()), "the job gets its own work directory");
            assertEquals(SPEC, job.spec());
            return new BuildRunner.Outcome(DIGEST, List.of("local/app:1@" + DIGEST));
        });
        String id = queued(1);

        assertTrue(execution.run(id, null, new Cancellation()));

        BuildRecord end = records.get(id);
        assertEquals(BuildState.SUCCEEDED, end.state());
        assertEquals(DIGEST, end.digest());
        assertEquals(List.of("local/app:1@" + DIGEST), end.pushed());
        assertEquals(List.of(new BuildRecord.Step("build", 1, 3, "RUN step 1", 5, false),
                new BuildRecord.Step("build", 2, 3, "RUN step 2", 10, true)), end.steps());
        assertEquals(List.of("running:0", "running:1", "running:2", "succeeded:2"), told, "each change told as it happened");
        assertEquals(List.of("build " + id + " started", "doing the work", "build succeeded: " + DIGEST), log(id).lines().toList());
        assertEquals(end, files.loadAll(problems::add).get(0), "the end is on disk");
        assertTrue(problems.isEmpty(), problems.toString());
    }

    @Test
    void aFailingBuildEndsFailedWithTheRunnersMessage() throws Exception {
        BuildExecution execution = execution(job -> {
            job.steps().accept(step(1, false));
            throw new BuildException("RUN make: exit status 2");
        });
        String id = queued(2);

        assertTrue(execution.run(id, null, new Cancellation()));

        BuildRecord end = records.get(id);
        assertEquals(BuildState.FAILED, end.state());
        assertEquals("RUN make: exit status 2", end.error());
        assertEquals(1, end.steps().size(), "the steps before the failure stay");
        assertTrue(end.finishedAt() != null && end.digest() == null);
        assertTrue(log(id).endsWith("error: RUN make: exit status 2\n"), log(id));
        assertEquals(List.of("running:0", "running:1", "failed:1"), told);
    }

    @Test
    void aRunnersBugFailsTheBuildNotTheGateway() throws Exception {
        BuildExecution execution = execution(job -> {
            throw new IllegalStateException("bug");
        });
        String id = queued(3);
        assertTrue(execution.run(id, null, new Cancellation()));
        assertEquals(BuildState.FAILED, records.get(id).state());
        assertTrue(records.get(id).error().contains("bug"), records.get(id).error());
    }

    @Test
    void aUserCancelEndsTheBuildCancelled() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        BuildExecution execution = execution(untilCancelled(started));
        String id = queued(4);
        Cancellation cancellation = new Cancellation();
        Thread canceller = once(started, cancellation::cancel);

        assertTrue(execution.run(id, null, cancellation));
        canceller.join();

        assertEquals(BuildState.CANCELLED, records.get(id).state());
        assertEquals("cancelled", records.get(id).error());
        assertTrue(log(id).endsWith("build cancelled (RUN killed)\n"), log(id));
    }

    @Test
    void aBuildCancelledAfterItsRunnerReturnedIsStillCancelled() throws Exception {
        Cancellation cancellation = new Cancellation();
        BuildExecution execution = execution(job -> {
            cancellation.cancel(); // the user's cancel raced the last step
            return new BuildRunner.Outcome(DIGEST, List.of());
        });
        String id = queued(5);
        assertTrue(execution.run(id, null, cancellation));
        assertEquals(BuildState.CANCELLED, records.get(id).state());
        assertEquals(null, records.get(id).digest(), "no image is claimed for a cancelled build");
    }

    @Test
    void stoppingTheGatewayFailsTheBuildAsStoppedNotCancelled() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        BuildExecution execution = execution(untilCancelled(started));
        String id = queued(6);
        Cancellation cancellation = new Cancellation();
        Thread stopper = once(started, () -> {
            stopping.set(true);
            cancellation.cancel();
        });

        assertTrue(execution.run(id, null, cancellation));
        stopper.join();

        assertEquals(BuildState.FAILED, records.get(id).state());
        assertEquals(BuildService.STOPPED, records.get(id).error());
        assertTrue(log(id).contains("build failed: " + BuildService.STOPPED), log(id));
    }

    @Test
    void theTimeoutCancelsTheBuildAndSaysWhichSettingEndedIt() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        BuildLimits limits = new BuildLimits(Duration.ofMillis(300), 16L << 20, 8, 8L << 30);
        BuildExecution execution = execution(untilCancelled(started), limits);
        String id = queued(7);

        assertTrue(execution.run(id, null, new Cancellation()));

        assertEquals(BuildState.FAILED, records.get(id).state());
        assertEquals("timed out after PT0.3S (kiln.builds.limits.timeout)", records.get(id).error());
        assertTrue(log(id).endsWith("error: timed out after PT0.3S (kiln.builds.limits.timeout)\n"), log(id));
    }

    @Test
    void aDetachedBuildStaysRunningAndIsNotEnded() throws Exception {
        BuildExecution execution = execution(job -> {
            throw new BuildRunner.Detached("the gateway stops following build " + job.id() + "; it goes on as a Job");
        });
        String id = queued(8);

        assertFalse(execution.run(id, null, new Cancellation()));

        assertEquals(BuildState.RUNNING, records.get(id).state());
        assertEquals(List.of("running:0"), told);
        assertTrue(log(id).contains("it goes on as a Job"), log(id));
    }

    @Test
    void aBuildFollowedAgainAfterARestartIsNotStartedTwice() throws Exception {
        BuildExecution execution = execution(job -> new BuildRunner.Outcome(DIGEST, List.of()));
        String id = queued(9);
        records.update(id, r -> r.running(Clock.systemUTC().instant()));
        BuildRecord running = records.get(id);
        Files.writeString(files.log(id), "build " + id + " started\nbefore the restart\n");
        told.clear();

        assertTrue(execution.run(id, null, new Cancellation()));

        assertEquals(running.startedAt(), records.get(id).startedAt(), "the start is the first one");
        assertEquals(List.of("succeeded:0"), told);
        assertEquals(List.of("build " + id + " started", "before the restart", "build succeeded: " + DIGEST), log(id).lines().toList());
    }

    @Test
    void theOutcomeLineIsWrittenEvenWhenTheLogIsFull() throws Exception {
        long cap = 4096;
        BuildExecution execution = execution(job -> {
            for (int i = 0; i < 1000; i++) {
                job.log().println("noisy line " + i + " " + "x".repeat(40));
            }
            throw new BuildException("the end");
        }, new BuildLimits(Duration.ofHours(1), cap, 8, 8L << 30));
        String id = queued(10);

        assertTrue(execution.run(id, null, new Cancellation()));

        String log = log(id);
        assertTrue(Files.size(files.log(id)) < cap + 200, "capped near " + cap + ": " + Files.size(files.log(id)));
        assertFalse(log.contains("noisy line 999"), "the rest is dropped");
        assertTrue(log.endsWith("error: the end\n"), log.substring(Math.max(0, log.length() - 300)));
    }
}
