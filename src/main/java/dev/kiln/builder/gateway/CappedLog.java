package dev.kiln.builder.gateway;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A build log that stops growing at a limit: what comes after is dropped, once marked with a
 * line, so a RUN printing without end cannot fill the disk.
 */
final class CappedLog extends FilterOutputStream {
    static final String MARKER = "[kiln: log truncated at %d bytes (kiln.builds.limits.max-log-bytes); the build goes on]";

    private final long limit;
    private long written;
    private boolean marked;

    /** {@code already}: bytes the log held before (the queue's own lines). */
    CappedLog(OutputStream out, long limit, long already) {
        super(out);
        this.limit = limit;
        this.written = already;
    }

    @Override
    public synchronized void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
        long room = limit - written;
        if (room >= len) {
            out.write(b, off, len);
            written += len;
            return;
        }
        if (room > 0) {
            out.write(b, off, (int) room);
            written += room;
        }
        if (!marked) {
            marked = true;
            out.write(("\n" + String.format(MARKER, limit) + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }

    /** Lines the service itself writes at the end (the outcome) always get through. */
    synchronized void writeAnyway(String line) throws IOException {
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
