package dev.kiln.registry.client;

import dev.kiln.oci.Digest;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Byte progress of the blobs a pull downloads and a push uploads, for a front end to show (a
 * redrawn line on a terminal, a line now and then in a log). Called on the transferring thread,
 * often: an implementation must be cheap and must not throw.
 */
public interface TransferProgress {
    TransferProgress NONE = new TransferProgress() {
    };

    enum Direction { PULL, PUSH }

    /** One blob on its way; {@code size} is -1 when unknown. */
    record Blob(Direction direction, String what, Digest digest, long size) {
    }

    default void started(Blob blob) {
    }

    /** {@code bytes} moved so far for this blob (counting again from 0 when a retry starts over). */
    default void advanced(Blob blob, long bytes) {
    }

    default void finished(Blob blob) {
    }

    /** The blob did not have to move: the destination had it, or mounted it from another repository. */
    default void skipped(Blob blob, String why) {
    }

    /** {@code in}, reporting each read to {@code progress} as bytes of {@code blob}. */
    static InputStream counting(InputStream in, TransferProgress progress, Blob blob) {
        if (progress == NONE) {
            return in;
        }
        return new FilterInputStream(in) {
            private long count;

            @Override
            public int read() throws IOException {
                int b = super.read();
                if (b >= 0) {
                    progress.advanced(blob, ++count);
                }
                return b;
            }

            @Override
            public int read(byte[] buffer, int offset, int length) throws IOException {
                int n = super.read(buffer, offset, length);
                if (n > 0) {
                    count += n;
                    progress.advanced(blob, count);
                }
                return n;
            }
        };
    }
}
