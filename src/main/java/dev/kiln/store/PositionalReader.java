package dev.kiln.store;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/** Reads at any position, from any thread, without a shared file pointer. */
@FunctionalInterface
public interface PositionalReader extends Closeable {
    /** Like {@link java.nio.channels.FileChannel#read(ByteBuffer, long)}: -1 at the end of what exists. */
    int read(ByteBuffer target, long position) throws IOException;

    @Override
    default void close() throws IOException {
    }
}
