package dev.kiln.store;

import dev.kiln.oci.Digest;
import java.io.IOException;
import java.io.InputStream;

/** Content on its way into the store; nothing is visible until {@link #commit} verifies it. */
public interface BlobWriter extends AutoCloseable {
    /** Appends everything {@code in} yields; returns the number of bytes written by this call. */
    long write(InputStream in) throws IOException;

    void write(byte[] bytes, int offset, int length) throws IOException;

    long size();

    /**
     * Positional reads of the bytes written so far while writing goes on; it stays readable after commit
     * until closed. This is how a mirror serves a blob to clients while it is still arriving.
     */
    PositionalReader openReader() throws IOException;

    /**
     * Checks the content written so far against {@code expected} (or computes its digest when null)
     * without making anything visible, so a caller streaming the content elsewhere can release it
     * before the store has made it durable. Nothing may be written afterwards. A mismatch throws
     * {@link DigestMismatchException} and keeps nothing.
     */
    Digest verify(Digest expected) throws IOException;

    /**
     * Verifies the content against {@code expected} (or takes its computed digest when null) and makes
     * it visible. A mismatch throws {@link DigestMismatchException} and keeps nothing.
     */
    Digest commit(Digest expected) throws IOException;

    /** Discards uncommitted content. */
    @Override
    void close() throws IOException;
}
