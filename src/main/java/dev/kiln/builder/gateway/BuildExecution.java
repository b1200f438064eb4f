package dev.kiln.builder.gateway;

import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.sandbox.Cancellation;
import dev.kiln.store.FsFiles;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Runs one gateway build that holds a slot, to its end: marks it running, hands it to the
 * {@link BuildRunner} with a log capped at {@code kiln.builds.limits.max-log-bytes}, cancels it at
 * the timeout, and records how it ended: succeeded, failed, timed out, cancelled by a user, or
 * stopped with the gateway. Which of these it was is told apart here, from the cancellation, the
 * alarm and whether the gateway is stopping.
 */
final class BuildExecution {
    private final BuildFiles files;
    private final BuildRunner runner;
    private final BuildLimits limits;
    private final Clock clock;
    private final BuildRecords records;
    private final ScheduledExecutorService alarms;
    private final BooleanSupplier stopping;
    private final Consumer<String> problems;

    BuildExecution(BuildFiles files, BuildRunner runner, BuildLimits limits, Clock clock, BuildRecords records,
                   ScheduledExecutorService alarms, BooleanSupplier stopping, Consumer<String> problems) {
        this.files = files;
        this.runner = runner;
        this.limits = limits;
        this.clock = clock;
        this.records = records;
        this.alarms = alarms;
        this.stopping = stopping;
        this.problems = problems;
    }

    /**
     * Runs build {@code id} (its record queued, or running when followed again after a restart).
     *
     * @return false when the build was detached: it goes on outside this gateway, and its record stays running
     */
    boolean run(String id, BuildRunner.Caller caller, Cancellation cancellation) {
        AtomicBoolean timedOut = new AtomicBoolean();
        ScheduledFuture<?> alarm = alarms.schedule(() -> {
            timedOut.set(true);
            cancellation.cancel();
        }, limits.timeout().toMillis(), TimeUnit.MILLISECONDS);
        Path logFile = files.log(id);
        CappedLog capped = capped(logFile);
        try (PrintStream log = capped != null ? new PrintStream(capped, true, StandardCharsets.UTF_8)
                : new PrintStream(new FileOutputStream(logFile.toFile(), true), true, StandardCharsets.UTF_8)) {
            boolean resumed = records.get(id).state() == BuildState.RUNNING;
            BuildRecord started = resumed ? records.get(id) : records.update(id, r -> r.running(clock.instant()));
            if (!resumed) {
                log.println("build " + id + " started");
            }
            BuildRecord end;
            try {
                Path archive = files.context(id);
                Path work = FsFiles.createDirectories(files.work(id));
                BuildRunner.Job job = new BuildRunner.Job(id, started.spec(), Files.exists(archive) ? archive : null, work, log,
                        cancellation, step -> recordStep(id, step), caller);
                BuildRunner.Outcome outcome = runner.run(job);
                if (cancellation.isCancelled()) {
                    throw new BuildException("cancelled");
                }
                end = records.get(id).succeeded(clock.instant(), outcome.digest(), outcome.pushed(), outcome.report());
                endLine(log, capped, "build succeeded: " + outcome.digest());
            } catch (BuildRunner.Detached e) {
                log.println(e.getMessage());
                return false;
            } catch (BuildException | IOException | RuntimeException e) {
                end = ended(id, e, cancellation.isCancelled(), timedOut.get(), line -> endLine(log, capped, line));
            }
            BuildRecord finalRecord = end;
            records.update(id, r -> finalRecord);
        } catch (IOException | RuntimeException e) {
            problems.accept("build " + id + ": " + e);
            try {
                records.update(id, r -> r.ended(BuildState.FAILED, clock.instant(), "gateway error: " + e.getMessage()));
            } catch (RuntimeException again) {
                problems.accept("build " + id + ": cannot record the failure: " + again);
            }
        } finally {
            alarm.cancel(false);
        }
        return true;
    }

    /** The record of a build that ended with {@code e}, its last log line written to {@code log}. */
    private BuildRecord ended(String id, Exception e, boolean cancelled, boolean timedOut, Consumer<String> log) {
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        BuildRecord current = records.get(id);
        if (cancelled && timedOut) {
            String why = "timed out after " + limits.timeout() + " (kiln.builds.limits.timeout)";
            log.accept("error: " + why);
            return current.ended(BuildState.FAILED, clock.instant(), why);
        }
        if (cancelled) {
            boolean stop = stopping.getAsBoolean();
            log.accept("build " + (stop ? "failed: " + BuildService.STOPPED : "cancelled") + " (" + message + ")");
            return current.ended(stop ? BuildState.FAILED : BuildState.CANCELLED, clock.instant(),
                    stop ? BuildService.STOPPED : "cancelled");
        }
        log.accept("error: " + message);
        return current.ended(BuildState.FAILED, clock.instant(), message);
    }

    /** The build's log, capped; null when it cannot be opened (the uncapped one then reports why). */
    private CappedLog capped(Path logFile) {
        try {
            return new CappedLog(new FileOutputStream(logFile.toFile(), true), limits.maxLogBytes(),
                    Files.exists(logFile) ? Files.size(logFile) : 0);
        } catch (IOException e) {
            return null;
        }
    }

    /** The outcome line gets into the log even when the log is full. */
    private static void endLine(PrintStream log, CappedLog capped, String line) {
        if (capped == null) {
            log.println(line);
            return;
        }
        log.flush();
        try {
            capped.writeAnyway(line);
        } catch (IOException e) {
            log.println(line);
        }
    }

    private void recordStep(String id, BuildEvent.StepFinished step) {
        records.update(id, r -> r.withStep(new BuildRecord.Step(step.stage(), step.number(), step.total(), step.instruction(),
                step.duration().toMillis(), step.cached())));
    }
}
