package dev.kiln.app.cli;

import dev.kiln.builder.exec.BuildLog;
import dev.kiln.registry.client.TransferProgress;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Shows the bytes of pulls and pushes. On a terminal (with the text log format) one status line is
 * redrawn in place, at most ten times a second, and erased when no blob is on its way. Anywhere else
 * (a pipe, a file, a CI log, {@code --log-format json}) it stays line-oriented: one log line per blob
 * done or skipped, and for a blob still moving a line at most every {@link #LINE_INTERVAL_NANOS}.
 */
final class ProgressReporter implements TransferProgress {
    static final long LINE_INTERVAL_NANOS = 5_000_000_000L;
    private static final long REDRAW_NANOS = 100_000_000L;

    private final BuildLog log;
    private final PrintStream terminal;
    private final LongSupplier nanoTime;
    private final Map<Blob, long[]> active = new LinkedHashMap<>(); // blob -> {bytes, startNanos, lastLineNanos}
    private long lastDraw = Long.MIN_VALUE;
    private boolean drawn;

    /** @param terminal where to redraw the status line, or null to log lines instead */
    ProgressReporter(BuildLog log, PrintStream terminal, LongSupplier nanoTime) {
        this.log = log;
        this.terminal = terminal;
        this.nanoTime = nanoTime;
    }

    /** A redrawn line when {@code err} is a terminal and the log is text, log lines otherwise. */
    static ProgressReporter forConsole(BuildLog log, PrintStream err, String logFormat) {
        boolean tty = System.console() != null && !"json".equalsIgnoreCase(logFormat);
        return new ProgressReporter(log, tty ? err : null, System::nanoTime);
    }

    @Override
    public synchronized void started(Blob blob) {
        long now = nanoTime.getAsLong();
        active.put(blob, new long[] {0, now, now});
        draw(true);
    }

    @Override
    public synchronized void advanced(Blob blob, long bytes) {
        long[] state = active.get(blob);
        if (state == null) {
            return;
        }
        state[0] = bytes;
        long now = nanoTime.getAsLong();
        if (terminal != null) {
            draw(false);
        } else if (now - state[2] >= LINE_INTERVAL_NANOS) {
            state[2] = now;
            log.info(verb(blob, true) + " " + name(blob) + ": " + amount(bytes, blob.size()));
        }
    }

    @Override
    public synchronized void finished(Blob blob) {
        long[] state = active.remove(blob);
        long took = state == null ? 0 : nanoTime.getAsLong() - state[1];
        long bytes = blob.size() >= 0 ? blob.size() : state == null ? 0 : state[0];
        done(verb(blob, false) + " " + name(blob) + ": " + size(bytes) + " in " + String.format(Locale.ROOT, "%.1f s", took / 1e9));
    }

    @Override
    public synchronized void skipped(Blob blob, String why) {
        active.remove(blob);
        done("not pushed " + name(blob) + ": " + why);
    }

    /** A finished blob is a log line in both modes; on a terminal the status line is redrawn below it. */
    private void done(String line) {
        if (terminal != null) {
            erase();
            if (log.enabled(BuildLog.Level.DEBUG)) {
                log.debug(line);
            }
            draw(true);
        } else {
            log.info(line);
        }
    }

    private void draw(boolean now) {
        if (terminal == null) {
            return;
        }
        long time = nanoTime.getAsLong();
        if (!now && time - lastDraw < REDRAW_NANOS) {
            return;
        }
        lastDraw = time;
        if (active.isEmpty()) {
            erase();
            return;
        }
        long bytes = 0;
        long total = 0;
        boolean known = true;
        int pulls = 0;
        int pushes = 0;
        for (Map.Entry<Blob, long[]> e : active.entrySet()) {
            bytes += e.getValue()[0];
            known &= e.getKey().size() >= 0;
            total += Math.max(0, e.getKey().size());
            if (e.getKey().direction() == Direction.PULL) {
                pulls++;
            } else {
                pushes++;
            }
        }
        String what = (pulls > 0 ? "pulling " + pulls + (pulls == 1 ? " blob" : " blobs") : "")
                + (pulls > 0 && pushes > 0 ? ", " : "")
                + (pushes > 0 ? "pushing " + pushes + (pushes == 1 ? " blob" : " blobs") : "");
        terminal.print("\r" + what + ": " + amount(bytes, known ? total : -1) + "\033[K");
        terminal.flush();
        drawn = true;
    }

    private void erase() {
        if (terminal != null && drawn) {
            terminal.print("\r\033[K");
            terminal.flush();
            drawn = false;
        }
    }

    private static String verb(Blob blob, boolean ongoing) {
        if (blob.direction() == Direction.PULL) {
            return ongoing ? "pulling" : "pulled";
        }
        return ongoing ? "pushing" : "pushed";
    }

    private static String name(Blob blob) {
        String digest = blob.digest().toString();
        String shortDigest = digest.substring(0, Math.min(digest.length(), digest.indexOf(':') + 13));
        if (blob.direction() == Direction.PUSH) {
            return shortDigest + " to " + blob.what();
        }
        return blob.what().contains(digest) ? blob.what().replace(digest, shortDigest) : blob.what() + " " + shortDigest;
    }

    static String amount(long bytes, long total) {
        if (total <= 0) {
            return size(bytes);
        }
        return size(bytes) + " of " + size(total) + " (" + (100 * bytes / total) + "%)";
    }

    static String size(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }
}
