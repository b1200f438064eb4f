package dev.kiln.oci.layer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * One gzip member whose deflate stream is made of fixed-size blocks compressed side by side, as pigz
 * does: each block is deflated on its own, primed with the 32 KiB of input before it, and ends with a
 * sync flush so the blocks concatenate into one valid deflate stream. The bytes depend only on the
 * input and the level, never on how many threads ran: the block size is fixed and every block's
 * dictionary is input, not another block's output.
 */
final class ParallelGzipOutputStream extends OutputStream {
    static final int BLOCK = 1024 * 1024;
    private static final int DICTIONARY = 32 * 1024;
    /** deflate's last block, empty and fixed-Huffman, after a sync flush has aligned the stream */
    private static final byte[] FINAL_EMPTY_BLOCK = {0x03, 0x00};

    private final OutputStream out;
    private final int level;
    private final ExecutorService pool;
    private final int inFlight;
    private final ArrayDeque<Future<byte[]>> pending = new ArrayDeque<>();
    private final CRC32 crc = new CRC32();
    private byte[] block = new byte[BLOCK];
    private int filled;
    private byte[] previous;
    private long total;
    private boolean closed;

    ParallelGzipOutputStream(OutputStream out, int level, ExecutorService pool, int parallelism) throws IOException {
        this.out = out;
        this.level = level;
        this.pool = pool;
        this.inFlight = Math.max(2, 2 * parallelism);
        // no name, no time, OS "unknown": as GzipCompressorOutputStream writes it for the sequential path
        int extraFlags = level == Deflater.BEST_COMPRESSION ? 2 : level == Deflater.BEST_SPEED ? 4 : 0;
        out.write(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, (byte) extraFlags, (byte) 255});
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        while (len > 0) {
            int n = Math.min(len, BLOCK - filled);
            System.arraycopy(b, off, block, filled, n);
            filled += n;
            off += n;
            len -= n;
            if (filled == BLOCK) {
                submitBlock();
            }
        }
    }

    /** Blocks are only cut at fixed sizes: a flush must not change the bytes. */
    @Override
    public void flush() throws IOException {
        out.flush();
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (filled > 0) {
                submitBlock();
            }
            while (!pending.isEmpty()) {
                writeOldest();
            }
            out.write(FINAL_EMPTY_BLOCK);
            writeIntLe((int) crc.getValue());
            writeIntLe((int) total);
        } finally {
            pending.forEach(f -> f.cancel(true));
            out.close();
        }
    }

    private void submitBlock() throws IOException {
        byte[] input = block;
        int length = filled;
        byte[] dictionary = previous;
        crc.update(input, 0, length);
        total += length;
        pending.add(pool.submit(() -> deflate(input, length, dictionary, level)));
        previous = input;
        block = new byte[BLOCK];
        filled = 0;
        if (pending.size() >= inFlight) {
            writeOldest();
        }
    }

    private void writeOldest() throws IOException {
        try {
            out.write(pending.remove().get());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while compressing a layer");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException("compressing a layer failed", e.getCause());
        }
    }

    /** One block, raw deflate, ending on a byte boundary (sync flush), never marked final. */
    static byte[] deflate(byte[] input, int length, byte[] dictionary, int level) {
        Deflater deflater = new Deflater(level, true);
        try {
            if (dictionary != null) {
                deflater.setDictionary(dictionary, dictionary.length - DICTIONARY, DICTIONARY);
            }
            deflater.setInput(input, 0, length);
            ByteArrayOutputStream compressed = new ByteArrayOutputStream(length / 2 + 64);
            byte[] buffer = new byte[64 * 1024];
            int n;
            do {
                n = deflater.deflate(buffer, 0, buffer.length, Deflater.SYNC_FLUSH);
                compressed.write(buffer, 0, n);
            } while (n == buffer.length || !deflater.needsInput());
            return compressed.toByteArray();
        } finally {
            deflater.end();
        }
    }

    private void writeIntLe(int value) throws IOException {
        out.write(new byte[] {(byte) value, (byte) (value >>> 8), (byte) (value >>> 16), (byte) (value >>> 24)});
    }
}
