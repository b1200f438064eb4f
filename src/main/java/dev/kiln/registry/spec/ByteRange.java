package dev.kiln.registry.spec;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** An inclusive byte range, as used by {@code Range} on blob reads and {@code Content-Range} on chunk uploads. */
public record ByteRange(long start, long end) {
    private static final Pattern RANGE = Pattern.compile("\\s*bytes=(\\d*)-(\\d*)\\s*", Pattern.CASE_INSENSITIVE);
    private static final Pattern UNIT = Pattern.compile("\\s*bytes=.*", Pattern.CASE_INSENSITIVE | Pattern.DOTALL);
    private static final Pattern CHUNK = Pattern.compile("\\s*(?:bytes[ =])?(\\d+)-(\\d+)(?:/(?:\\d+|\\*))?\\s*");

    public long length() {
        return end - start + 1;
    }

    /**
     * Resolves a {@code Range} header against a blob of {@code size} bytes. Returns null when the whole
     * blob should be sent (no header, a multi-range, which a server may answer in full, or a unit other
     * than bytes, which RFC 9110 section 14.2 says to ignore).
     */
    public static ByteRange forRead(String header, long size) {
        if (header == null || header.isBlank() || header.contains(",") || !UNIT.matcher(header).matches()) {
            return null;
        }
        Matcher m = RANGE.matcher(header);
        if (!m.matches() || (m.group(1).isEmpty() && m.group(2).isEmpty())) {
            throw unsatisfiable(size, "malformed Range header: " + header);
        }
        long start;
        long end;
        try {
            if (m.group(1).isEmpty()) {
                long suffix = Long.parseLong(m.group(2));
                if (suffix == 0) {
                    throw unsatisfiable(size, "empty suffix range");
                }
                start = Math.max(0, size - suffix);
                end = size - 1;
            } else {
                start = Long.parseLong(m.group(1));
                end = m.group(2).isEmpty() ? size - 1 : Math.min(Long.parseLong(m.group(2)), size - 1);
            }
        } catch (NumberFormatException e) {
            throw unsatisfiable(size, "range out of bounds: " + header);
        }
        if (start >= size || start > end) {
            throw unsatisfiable(size, "range " + header + " is outside the blob's " + size + " bytes");
        }
        return new ByteRange(start, end);
    }

    /** Parses an upload chunk's {@code Content-Range: <start>-<end>}; null when absent. */
    public static ByteRange forChunk(String header) {
        if (header == null || header.isBlank()) {
            return null;
        }
        Matcher m = CHUNK.matcher(header);
        if (!m.matches()) {
            throw new RegistryException(ErrorCode.RANGE_INVALID, 416, "malformed Content-Range: " + header, null, Map.of());
        }
        long start;
        long end;
        try {
            start = Long.parseLong(m.group(1));
            end = Long.parseLong(m.group(2));
        } catch (NumberFormatException e) {
            throw new RegistryException(ErrorCode.RANGE_INVALID, 416, "Content-Range out of bounds: " + header, null, Map.of());
        }
        if (end < start) {
            throw new RegistryException(ErrorCode.RANGE_INVALID, 416, "Content-Range ends before it starts: " + header, null, Map.of());
        }
        return new ByteRange(start, end);
    }

    private static RegistryException unsatisfiable(long size, String message) {
        return new RegistryException(ErrorCode.RANGE_INVALID, 416, message, null, Map.of("Content-Range", "bytes */" + size));
    }
}
