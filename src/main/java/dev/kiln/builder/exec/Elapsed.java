package dev.kiln.builder.exec;

import java.util.Locale;

/** Durations as the build log shows them: seconds with two decimals. */
public final class Elapsed {
    private Elapsed() {
    }

    /** Time since {@code startNanos} (a {@link System#nanoTime()}), e.g. {@code 1.25s}. */
    public static String since(long startNanos) {
        return String.format(Locale.ROOT, "%.2fs", (System.nanoTime() - startNanos) / 1e9);
    }
}
