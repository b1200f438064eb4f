package dev.kiln.oci.layer;

import com.github.luben.zstd.ZstdOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipParameters;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorOutputStream;

/**
 * Compresses a layer tar. A layer up to {@link #PARALLEL_THRESHOLD} is compressed in the caller's
 * thread with one compressor, byte for byte as Kiln always did (its digest does not change, and a
 * small layer is done before threads would pay off); a bigger one on all cores: gzip in independent
 * blocks ({@link ParallelGzipOutputStream}), zstd with the library's workers. Either way the bytes
 * depend only on the tar and the level, never on the number of cores, so {@code --reproducible}
 * builds give the same digest on any machine.
 */
final class LayerCompressor extends OutputStream {
    static final int PARALLEL_THRESHOLD = 4 * 1024 * 1024;

    private final Compression compression;
    private final OutputStream out;
    private final ExecutorService pool;
    private final int parallelism;
    private final int threshold;
    /** the tar's first bytes, until it is known whether the layer is small */
    private byte[] head;
    private int headLength;
    /** where flush() was called while buffering: the sequential compressors see the same calls */
    private final List<Integer> flushes = new ArrayList<>();
    private OutputStream compressor;
    private boolean closed;

    private LayerCompressor(Compression compression, OutputStream out, ExecutorService pool, int parallelism,
            int threshold) {
        this.compression = compression;
        this.out = out;
        this.pool = pool;
        this.parallelism = parallelism;
        this.threshold = threshold;
        this.head = new byte[Math.min(threshold, 64 * 1024)];
    }

    /** The compressor for a layer, on a thread per core shared by every layer of the process. */
    static OutputStream open(Compression compression, OutputStream out) {
        if (compression.algorithm() == Compression.Algorithm.NONE) {
            return out;
        }
        return new LayerCompressor(compression, out, SharedPool.POOL, SharedPool.THREADS, PARALLEL_THRESHOLD);
    }

    /** With a given pool and threshold: the tests show the bytes do not depend on them. */
    static OutputStream open(Compression compression, OutputStream out, ExecutorService pool, int parallelism,
            int threshold) {
        return new LayerCompressor(compression, out, pool, parallelism, threshold);
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        if (compressor == null && headLength + len > threshold) {
            compressor = parallel();
            compressor.write(head, 0, headLength);
            head = null;
        }
        if (compressor != null) {
            compressor.write(b, off, len);
            return;
        }
        if (headLength + len > head.length) {
            head = java.util.Arrays.copyOf(head, Math.min(threshold, Math.max(headLength + len, 2 * head.length)));
        }
        System.arraycopy(b, off, head, headLength, len);
        headLength += len;
    }

    @Override
    public void flush() throws IOException {
        if (compressor != null) {
            compressor.flush();
        } else {
            flushes.add(headLength);
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        if (compressor == null) {
            compressor = sequential();
            int written = 0;
            for (int at : flushes) {
                compressor.write(head, written, at - written);
                compressor.flush();
                written = at;
            }
            compressor.write(head, written, headLength - written);
        }
        compressor.close();
    }

    private OutputStream sequential() throws IOException {
        return switch (compression.algorithm()) {
            case NONE -> out;
            case GZIP -> {
                GzipParameters parameters = new GzipParameters();
                parameters.setCompressionLevel(compression.level());
                parameters.setModificationTime(0); // a time in the header would break reproducibility
                yield new GzipCompressorOutputStream(out, parameters);
            }
            case ZSTD -> new ZstdCompressorOutputStream(out, compression.level());
        };
    }

    private OutputStream parallel() throws IOException {
        return switch (compression.algorithm()) {
            case NONE -> out;
            case GZIP -> new ParallelGzipOutputStream(out, compression.level(), pool, parallelism);
            case ZSTD -> new UnflushedOutputStream(
                    // zstd's own multi-threaded mode: its frames are the same for any worker count >= 1
                    new ZstdOutputStream(out).setLevel(compression.level()).setWorkers(Math.max(1, parallelism)));
        };
    }

    /** A flush would end a zstd block where the caller happened to flush: only the data may decide. */
    private static final class UnflushedOutputStream extends java.io.FilterOutputStream {
        UnflushedOutputStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void flush() {
        }
    }

    private static final class SharedPool {
        static final int THREADS = Runtime.getRuntime().availableProcessors();
        static final ExecutorService POOL = Executors.newFixedThreadPool(THREADS, task -> {
            Thread thread = new Thread(task, "kiln-compress");
            thread.setDaemon(true);
            return thread;
        });
    }
}
