package dev.kiln.registry.mirror;

import dev.kiln.oci.Digest;
import dev.kiln.store.BlobWriter;
import dev.kiln.store.PositionalReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;

/**
 * One upstream download that any number of clients read while it is still arriving. Readers follow
 * the bytes as they are written but never get the last byte before the whole blob has been verified
 * against its digest: a corrupt or truncated download ends every reader with an error, never with a
 * complete-looking body. The last byte does not wait for the store to make the blob durable (fsync,
 * rename, an object-store upload): that is the store's business, and it cost every cold blob a flush.
 */
final class InflightBlob {
    private final Digest digest;
    private final BlobWriter writer;
    private final PositionalReader channel;
    private int references = 1;
    private long written;
    private long expectedSize = -1;
    private boolean started;
    private boolean verified;
    private boolean done;
    private IOException failure;
    private final java.util.concurrent.atomic.AtomicInteger joined = new java.util.concurrent.atomic.AtomicInteger();

    InflightBlob(Digest digest, BlobWriter writer) throws IOException {
        this.digest = digest;
        this.writer = writer;
        this.channel = writer.openReader();
    }

    Digest digest() {
        return digest;
    }

    BlobWriter writer() {
        return writer;
    }

    /** Another client follows this download instead of fetching the blob again. */
    void joined() {
        joined.incrementAndGet();
    }

    int waiters() {
        return joined.get();
    }

    synchronized void started(long size) {
        expectedSize = size;
        started = true;
        notifyAll();
    }

    synchronized void wrote(long bytes) {
        written += bytes;
        notifyAll();
    }

    synchronized long written() {
        return written;
    }

    /** The content matches its digest: readers may have the last byte, whatever happens to it in the store. */
    synchronized void verified() {
        verified = true;
        notifyAll();
    }

    /** Ends every reader with {@code e}, unless the content was verified already. */
    synchronized void failed(IOException e) {
        if (!verified && failure == null) {
            failure = e;
        }
        notifyAll();
    }

    /** The fetch is over: kept in the store, or failed. Readers keep the temp file open until they close. */
    synchronized void done() {
        if (!done) {
            done = true;
            if (!verified && failure == null) {
                failure = new IOException("the download of " + digest + " ended unverified");
            }
            notifyAll();
            release();
        }
    }

    /** Waits until the fetch is over, so that a verified blob is in the store (unless storing it failed). */
    synchronized void awaitDone() {
        while (!done) {
            waitABit();
        }
    }

    /** Waits until the upstream has answered; returns the declared size, or -1 when it sent none. */
    synchronized long awaitStart() throws IOException {
        while (!started && failure == null) {
            waitABit();
        }
        if (!started) {
            throw failure;
        }
        return expectedSize;
    }

    /** A reader from the first byte, or null when the download is over and its file already closed. */
    synchronized InputStream newReader() {
        if (references == 0) {
            return null;
        }
        references++;
        return new Reader();
    }

    private synchronized void release() {
        if (--references == 0) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing more to read from it either way
            }
        }
    }

    private void waitABit() {
        try {
            wait(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private final class Reader extends InputStream {
        private long position;
        private boolean closed;

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] target, int offset, int length) throws IOException {
            if (length == 0) {
                return 0;
            }
            long readable;
            synchronized (InflightBlob.this) {
                while (true) {
                    if (failure != null) {
                        throw new IOException("upstream download of " + digest + " failed: " + failure.getMessage(), failure);
                    }
                    readable = verified ? written : written - 1;
                    if (position < readable) {
                        break;
                    }
                    if (verified) {
                        return -1;
                    }
                    waitABit();
                }
            }
            int n = (int) Math.min(length, readable - position);
            int read = channel.read(ByteBuffer.wrap(target, offset, n), position);
            if (read < 0) {
                throw new IOException("blob " + digest + " ended early in the store");
            }
            position += read;
            return read;
        }

        @Override
        public void close() {
            synchronized (InflightBlob.this) {
                if (!closed) {
                    closed = true;
                    release();
                }
            }
        }
    }
}
