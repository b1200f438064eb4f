package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Ports;
import dev.kiln.testkit.Slowness;
import dev.kiln.testkit.Tools;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs README.md's own tour: every code block fenced as {@code ```sh tour}, in order, in one bash
 * with {@code set -e}, in a fresh directory where {@code ./kiln} is the packaged jar, on a free
 * {@code KILN_PORT}. The README and what the tour does cannot drift apart: a command that fails or
 * needs a file the tour did not make fails this test.
 */
class ReadmeTourIT {
    private static final Pattern TOUR_BLOCK = Pattern.compile("(?m)^```sh tour\\n(.*?)^```$", Pattern.DOTALL);

    @TempDir
    Path work;

    @Test
    void theReadmeTourRunsTopToBottomAsWritten() throws Exception {
        Tools.require("curl", "curl");
        Tools.require("skopeo", "skopeo");
        Tools.require("/bin/busybox", "busybox-static");
        List<String> blocks = tourBlocks(Files.readString(Path.of("README.md"), StandardCharsets.UTF_8));
        assertTrue(blocks.size() >= 4, "README.md must mark its tour's shell blocks as ```sh tour; found " + blocks.size());

        Path launcher = work.resolve("kiln");
        Files.writeString(launcher, "#!/bin/sh\n# the packaged jar in place of the checkout's ./kiln\nexec '"
                + Path.of(System.getProperty("java.home"), "bin", "java") + "' -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -jar '"
                + KilnProcess.jar().toAbsolutePath() + "' \"$@\"\n");
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        // The harness's own lines: trace every command, and never leave the tour's server behind if a block fails.
        String script = "set -euo pipefail -x\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + String.join("\n", blocks);
        Path tour = work.resolve("tour.sh");
        Files.writeString(tour, script);

        int port = Ports.freePort();
        Path output = work.resolve("tour.out");
        ProcessBuilder builder = new ProcessBuilder("bash", tour.toString())
                .directory(work.toFile())
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().put("KILN_PORT", Integer.toString(port));
        long started = System.nanoTime();
        Process bash = builder.start();
        boolean finished;
        try {
            // A bound, not an expectation: a dozen JVM starts and four builds take 10-40 s, longer on a loaded machine.
            finished = bash.waitFor(Slowness.scale(Duration.ofMinutes(3)).toSeconds(), TimeUnit.SECONDS);
        } finally {
            bash.descendants().forEach(ProcessHandle::destroyForcibly);
            bash.destroyForcibly();
            killLeftovers();
        }
        String seconds = String.format("%.1f s", (System.nanoTime() - started) / 1e9);
        String diagnostics = "\n--- the tour's output (tail) ---\n" + tail(output, 120)
                + "\n--- the server's log, tour/kiln.log (tail) ---\n" + tail(work.resolve("tour/kiln.log"), 60);
        if (!finished) {
            fail("the README tour did not finish in time (" + Slowness.describe() + ")" + diagnostics);
        }
        assertEquals(0, bash.exitValue(), "the README tour failed after " + seconds + " at the last command traced below" + diagnostics);
        System.out.println("README tour: " + blocks.size() + " blocks in " + seconds);

        String out = Files.readString(output, StandardCharsets.UTF_8);
        assertTrue(Pattern.compile("\"repositories\":\\[[^\\]]*\"local/base\"").matcher(out).find(),
                "the catalog lists the tour's base image" + diagnostics);
        assertTrue(out.contains("MISS"), "the dry run after the edit shows a cache miss" + diagnostics);
        assertTrue(Files.isDirectory(work.resolve("tour/warm")), "kiln warm wrote to the tour's own directory" + diagnostics);
        assertTrue(Files.isDirectory(work.resolve("tour/cache-store")), "the server's store is the tour's own" + diagnostics);
    }

    static List<String> tourBlocks(String markdown) {
        List<String> blocks = new ArrayList<>();
        Matcher matcher = TOUR_BLOCK.matcher(markdown);
        while (matcher.find()) {
            blocks.add(matcher.group(1));
        }
        return blocks;
    }

    /** A server the trap could not stop (bash killed first): a java process of this jar working in this directory. */
    private void killLeftovers() {
        String jar = KilnProcess.jar().toAbsolutePath().toString();
        ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().map(c -> c.contains(jar)).orElse(false))
                .filter(p -> work.equals(cwd(p)))
                .forEach(ProcessHandle::destroyForcibly);
    }

    private static Path cwd(ProcessHandle process) {
        try {
            return Files.readSymbolicLink(Path.of("/proc", Long.toString(process.pid()), "cwd"));
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    private static String tail(Path file, int lines) {
        try {
            return Slowness.tail(Files.readString(file, StandardCharsets.UTF_8), lines);
        } catch (IOException e) {
            return "(no " + file.getFileName() + ": " + e.getMessage() + ")";
        }
    }
}
