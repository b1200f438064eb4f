package dev.kiln.store;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What a store lock object holds: who has the lock and until when. One line of text, so it is easy to read by hand. */
public record LockRecord(String holder, Instant expires) {
    private static final Pattern LINE = Pattern.compile("holder=(\\S+) expires=(\\S+)\\s*");

    public byte[] toBytes() {
        return ("holder=" + holder + " expires=" + expires + "\n").getBytes(StandardCharsets.UTF_8);
    }

    /** Null when the bytes are not a lock record (then the lock counts as free: a torn or hand-made file must not block GC forever). */
    public static LockRecord parse(byte[] bytes) {
        Matcher m = LINE.matcher(new String(bytes, StandardCharsets.UTF_8));
        if (!m.matches()) {
            return null;
        }
        try {
            return new LockRecord(m.group(1), Instant.parse(m.group(2)));
        } catch (java.time.format.DateTimeParseException e) {
            return null;
        }
    }

    /** Whether {@code holder} may take the lock now over this record. */
    public static boolean free(LockRecord current, String holder, Instant now) {
        return current == null || current.holder.equals(holder) || !current.expires.isAfter(now);
    }
}
