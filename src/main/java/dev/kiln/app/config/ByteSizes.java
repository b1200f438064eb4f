package dev.kiln.app.config;

import java.util.Locale;

/** Byte counts as people write them: {@code 500M}, {@code 20G}, {@code 1T}, or plain bytes. */
public final class ByteSizes {
    private ByteSizes() {
    }

    public static long parse(String text) {
        String t = text.trim().toUpperCase(Locale.ROOT).replaceAll("I?B$", "");
        long unit = 1;
        if (!t.isEmpty() && "KMGT".indexOf(t.charAt(t.length() - 1)) >= 0) {
            unit = 1L << (10 * ("KMGT".indexOf(t.charAt(t.length() - 1)) + 1));
            t = t.substring(0, t.length() - 1);
        }
        try {
            return Long.parseLong(t.trim()) * unit;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a byte size: " + text + " (use e.g. 500M, 20G)");
        }
    }
}
