package dev.kiln.oci.layer;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.Arrays;
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
 *
 * <p>Input and output arrays are recycled: a new 1 MiB array per block, a growing output stream and
 * its copy made 5–6 MiB of garbage per MiB of layer, and the blocks still in flight at each young
 * collection overflowed the survivor space, so a 100 MB COPY filled the gateway's old generation to
 * its cap (bench/cold-pull-stress.sh: the peak RSS fell in the build's last step).
 *
 * <p>A block that does not compress (random data, already compressed files) is stored instead: at
 * level 6 zlib spends as long searching 100 MB of such data as it would text (about 2.6 s of CPU
 * here) to end up storing it anyway. A few fast probes spread over the block decide it, from the
 * block's own bytes, so the output still depends on nothing but the input and the level.
 */
final class ParallelGzipOutputStream extends OutputStream {
    static final int BLOCK = 1024 * 1024;
    /** above deflate's worst case for a block of stored (incompressible) data and its flush markers */
    private static final int OUTPUT = BLOCK + BLOCK / 64 + 1024;
    private static final int DICTIONARY = 32 * 1024;
    /**
     * Deflate's whole window, so data that repeats within it shows in a probe; four of them cost an
     * eighth of compressing the block at level 1 (which is no faster than level 6 on random data).
     */
    static final int PROBE = 32 * 1024;
    private static final int PROBES = 4;
    /** A probe that level 1 shrinks by less than this (1/128, under 1 %) is taken as incompressible. */
    private static final int GAIN_SHIFT = 7;
    /** deflate's last block, empty and fixed-Huffman, after a sync flush has aligned the stream */
    private static final byte[] FINAL_EMPTY_BLOCK = {0x03, 0x00};

    private final OutputStream out;
    private final int level;
    private final ExecutorService pool;
    private final int inFlight;
    private final ArrayDeque<Future<Deflated>> pending = new ArrayDeque<>();
    /** inputs in submission order still needed: as a block's input or the next block's dictionary */
    private final ArrayDeque<byte[]> inputs = new ArrayDeque<>();
    private final ArrayDeque<byte[]> freeInputs = new ArrayDeque<>();
    private final ArrayDeque<byte[]> freeOutputs = new ArrayDeque<>();
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
        byte[] output = freeOutputs.isEmpty() ? new byte[OUTPUT] : freeOutputs.pop();
        crc.update(input, 0, length);
        total += length;
        pending.add(pool.submit(() -> deflate(input, length, dictionary, level, output)));
        inputs.add(input);
        previous = input;
        block = freeInputs.isEmpty() ? new byte[BLOCK] : freeInputs.pop();
        filled = 0;
        if (pending.size() >= inFlight) {
            writeOldest();
        }
    }

    private void writeOldest() throws IOException {
        try {
            Deflated oldest = pending.remove().get();
            out.write(oldest.bytes(), 0, oldest.length());
            if (oldest.bytes().length == OUTPUT) {
                freeOutputs.push(oldest.bytes());
            }
            // this block's input is the dictionary of the next, which may not have started yet; the one
            // before it served this block, which is done
            while (inputs.size() > pending.size() + 1) {
                freeInputs.push(inputs.remove());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while compressing a layer");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException("compressing a layer failed", e.getCause());
        }
    }

    /**
     * One block, raw deflate, ending on a byte boundary (sync flush), never marked final, into
     * {@code output} (a larger copy should a block ever outgrow deflate's worst case).
     */
    static Deflated deflate(byte[] input, int length, byte[] dictionary, int level, byte[] output) {
        boolean store = level != Deflater.NO_COMPRESSION && incompressible(input, length);
        Deflater deflater = new Deflater(store ? Deflater.NO_COMPRESSION : level, true);
        try {
            if (dictionary != null && !store) {
                deflater.setDictionary(dictionary, dictionary.length - DICTIONARY, DICTIONARY);
            }
            deflater.setInput(input, 0, length);
            byte[] bytes = output;
            int n = 0;
            do {
                if (n == bytes.length) {
                    bytes = Arrays.copyOf(bytes, bytes.length * 2);
                }
                n += deflater.deflate(bytes, n, bytes.length - n, Deflater.SYNC_FLUSH);
            } while (n == bytes.length || !deflater.needsInput());
            return new Deflated(bytes, n);
        } finally {
            deflater.end();
        }
    }

    record Deflated(byte[] bytes, int length) {}

    /**
     * Whether no probe (at the start, the end and evenly between) shrinks at level 1. One probe that
     * does is enough to compress the whole block at the asked level; a block too short to probe is
     * compressed.
     */
    static boolean incompressible(byte[] input, int length) {
        if (length < PROBE * PROBES) {
            return false;
        }
        Deflater probe = new Deflater(Deflater.BEST_SPEED, true);
        byte[] out = new byte[PROBE + PROBE / 8 + 64];
        try {
            for (int i = 0; i < PROBES; i++) {
                int offset = (int) ((long) (length - PROBE) * i / (PROBES - 1));
                probe.reset();
                probe.setInput(input, offset, PROBE);
                probe.finish();
                int size = 0;
                while (!probe.finished()) {
                    size += probe.deflate(out);
                }
                if (size < PROBE - (PROBE >> GAIN_SHIFT)) {
                    return false;
                }
            }
            return true;
        } finally {
            probe.end();
        }
    }

    private void writeIntLe(int value) throws IOException {
        out.write(new byte[] {(byte) value, (byte) (value >>> 8), (byte) (value >>> 16), (byte) (value >>> 24)});
    }
}
