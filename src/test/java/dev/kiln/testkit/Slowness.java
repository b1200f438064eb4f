package dev.kiln.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How much slower than an idle machine this one is right now, for timeouts: the slowest start-up of
 * the packaged jar measured in this test JVM against an idle one, or the load average per core when
 * it is higher. A suite on a loaded 2-core machine starts the jar in 10–30 s instead of 2–3 s; a
 * timeout written for an idle laptop then fails tests that are merely waiting their turn for a CPU.
 */
public final class Slowness {
    /** The jar's {@code serve} start-up, JVM to first answer on /v2/, on this machine when idle. */
    static final Duration IDLE_STARTUP = Duration.ofSeconds(3);
    private static final double MAX_FACTOR = 20;
    private static volatile Duration slowestStartup = Duration.ZERO;

    private Slowness() {
    }

    /** Records a measured start-up of the jar. */
    public static void startedIn(Duration startup) {
        synchronized (Slowness.class) {
            if (startup.compareTo(slowestStartup) > 0) {
                slowestStartup = startup;
            }
        }
    }

    /** At least 1: how many times an idle machine's durations to allow. */
    public static double factor() {
        double fromStartup = (double) slowestStartup.toMillis() / IDLE_STARTUP.toMillis();
        double fromLoad = loadAverage() / Runtime.getRuntime().availableProcessors();
        return Math.min(MAX_FACTOR, Math.max(1, Math.max(fromStartup, fromLoad)));
    }

    /** {@code idle} scaled by {@link #factor()}. */
    public static Duration scale(Duration idle) {
        return Duration.ofMillis((long) (idle.toMillis() * factor()));
    }

    /** For failure messages: what the scaling was based on. */
    public static String describe() {
        return String.format("load average %.1f on %d cores, slowest jar start-up so far %.1f s: timeouts x%.1f",
                loadAverage(), Runtime.getRuntime().availableProcessors(), slowestStartup.toMillis() / 1000.0, factor());
    }

    static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /**
     * Asks a JVM for a thread dump (SIGQUIT), which it prints to its own output, i.e. the server log:
     * a start-up that did not finish then shows where it was stuck. Waits a moment for the dump.
     */
    public static void requestThreadDump(long pid) {
        try {
            new ProcessBuilder("kill", "-QUIT", Long.toString(pid)).start().waitFor();
            Thread.sleep(1000);
        } catch (IOException e) {
            // no dump; the log tail and the load still go into the message
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The last {@code lines} lines of {@code text}, for failure messages that must stay readable. */
    public static String tail(String text, int lines) {
        String[] all = text.split("\n", -1);
        if (all.length <= lines) {
            return text;
        }
        return "(" + (all.length - lines) + " earlier lines)\n" + String.join("\n", java.util.Arrays.copyOfRange(all, all.length - lines, all.length));
    }
}
