package dev.kiln.builder.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.app.cli.BuildCommand;
import dev.kiln.testkit.BusyboxContext;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Stages that do not need each other run at the same time ({@code --max-parallel-stages}), and the
 * image is the one the stages built one after the other make, byte for byte. Overlap is read from
 * the log: each RUN prints a line when it starts and one when it ends, several seconds later, so
 * when stages overlap both starts come before either end; one after the other, they never do.
 */
class ParallelStagesBuildTest {
    /** Long against a RUN's start-up on a loaded machine, so concurrently started RUNs surely overlap. */
    private static final int RUN_SECONDS = 3;

    @TempDir
    Path dir;

    record Build(int exit, String log, long millis) {
        String digest() {
            Matcher m = Pattern.compile("build done in [0-9.]+s: (sha256:[0-9a-f]{64})").matcher(log);
            assertTrue(m.find(), log);
            return m.group(1);
        }

        int line(String text) {
            List<String> lines = log.lines().toList();
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).endsWith("| " + text)) {
                    return i;
                }
            }
            throw new AssertionError("no line ending in '| " + text + "' in:\n" + log);
        }
    }

    private Path context(String stageOne, String stageTwo) throws IOException {
        Path ctx = BusyboxContext.write(dir.resolve("ctx-" + UUID.randomUUID()), "");
        String base = Files.readString(ctx.resolve("Dockerfile"));
        Files.writeString(ctx.resolve("Dockerfile"), base.replace("FROM scratch", "FROM scratch AS base") + """

                FROM base AS one
                COPY a.txt /one/
                %s

                FROM base AS two
                COPY b.txt /two/
                %s

                FROM base
                COPY --from=one /one /one
                COPY --from=two /two /two
                """.formatted(stageOne, stageTwo));
        Files.writeString(ctx.resolve("a.txt"), "a\n");
        Files.writeString(ctx.resolve("b.txt"), "b\n");
        return ctx;
    }

    private Build build(Path ctx, int maxParallel) {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        long t0 = System.nanoTime();
        int exit = new CommandLine(new BuildCommand(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(log, true, StandardCharsets.UTF_8))).execute("-c", ctx.toString(), "--no-push",
                "--reproducible", "--cache-dir", dir.resolve("cache").toString(),
                "--max-parallel-stages", Integer.toString(maxParallel));
        return new Build(exit, log.toString(StandardCharsets.UTF_8), (System.nanoTime() - t0) / 1_000_000);
    }

    private static String timedRun(String name) {
        return "RUN echo " + name + "-start && sleep " + RUN_SECONDS + " && echo " + name + " > /" + name + "/made && echo "
                + name + "-end";
    }

    @Test
    void independentStagesOverlapAndTheImageIsTheSameAsOneAfterTheOther() throws IOException {
        Path ctx = context(timedRun("one"), timedRun("two"));

        Build sequential = build(ctx, 1);
        assertEquals(0, sequential.exit(), sequential.log());
        assertTrue(sequential.line("one-end") < sequential.line("two-start"), "one at a time, in file order:\n" + sequential.log());

        Build parallel = build(ctx, 2);
        assertEquals(0, parallel.exit(), parallel.log());
        assertEquals(sequential.digest(), parallel.digest(), "the same image\n--- 1:\n" + sequential.log() + "\n--- 2:\n"
                + parallel.log());
        int lastStart = Math.max(parallel.line("one-start"), parallel.line("two-start"));
        int firstEnd = Math.min(parallel.line("one-end"), parallel.line("two-end"));
        assertTrue(lastStart < firstEnd, "both RUNs started before either ended:\n" + parallel.log());
        assertTrue(parallel.log().contains("[one 3/3] | one-start") && parallel.log().contains("[two 3/3] | two-start"),
                "RUN output names its stage and step:\n" + parallel.log());
    }

    @Test
    void aFailingStageStopsTheOtherAndTheBuildReportsTheFailingStep() throws IOException {
        String token = "kiln-parallel-" + UUID.randomUUID();
        Path ctx = context("RUN echo one-start && sleep 120 && echo " + token,
                "RUN echo two-start && sleep 1 && exit 7");

        Build failed = build(ctx, 2);
        assertEquals(1, failed.exit(), failed.log());
        String error = failed.log().lines().filter(l -> l.startsWith("error: ")).findFirst().orElse("");
        assertTrue(error.matches("error: Dockerfile:\\d+: RUN echo two-start && sleep 1 && exit 7: "
                + "the command returned a non-zero code: 7"), "the failing step is the error:\n" + failed.log());
        assertTrue(failed.log().contains("| one-start"), "stage one was running:\n" + failed.log());
        assertTrue(failed.millis() < 60_000, "stage one's RUN was stopped, not waited for (" + failed.millis() + " ms):\n"
                + failed.log());
        assertFalse(ProcessHandle.allProcesses().anyMatch(p -> p.info().commandLine().orElse("").contains(token)),
                "stage one's RUN is gone");
    }

    /** A locked cache mount is one RUN's at a time, also when the RUNs are in stages running at once in one process. */
    @Test
    void concurrentStagesTakeTurnsWithALockedCacheMount() throws IOException {
        String run = "RUN --mount=type=cache,target=/c,id=turns,sharing=locked echo in >> /c/log && sleep 1 && echo out >> /c/log";
        Path ctx = context(run, run);

        Build build = build(ctx, 2);
        assertEquals(0, build.exit(), build.log());
        try (var dirs = Files.list(dir.resolve("cache/run-cache"))) {
            Path cache = dirs.filter(d -> d.getFileName().toString().startsWith("turns-") && Files.isDirectory(d))
                    .findFirst().orElseThrow();
            assertEquals("in\nout\nin\nout\n", Files.readString(cache.resolve("log")), "one RUN after the other:\n" + build.log());
        }
    }
}
