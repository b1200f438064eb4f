package dev.kiln.oci.layer;

import static dev.kiln.testkit.Tools.sh;
import static dev.kiln.testkit.Tools.sha256sum;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipParameters;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerCompressorTest {
    /** small enough that a few MiB of test data goes the parallel way in several gzip blocks */
    private static final int THRESHOLD = 256 * 1024;
    private static final List<ExecutorService> POOLS = new ArrayList<>();

    @TempDir
    Path tmp;

    @AfterAll
    static void stopPools() {
        POOLS.forEach(ExecutorService::shutdownNow);
    }

    /** Text-like and random runs mixed, so blocks compress unevenly and back-references cross blocks. */
    private static byte[] layerLike(int size, long seed) {
        Random random = new Random(seed);
        byte[] data = new byte[size];
        int at = 0;
        while (at < size) {
            int run = Math.min(size - at, 1 + random.nextInt(200_000));
            if (random.nextBoolean()) {
                byte[] line = ("line " + random.nextInt(1000) + " of a config file, repeated\n").getBytes(StandardCharsets.UTF_8);
                for (int i = 0; i < run; i++) {
                    data[at + i] = line[i % line.length];
                }
            } else {
                byte[] noise = new byte[run];
                random.nextBytes(noise);
                System.arraycopy(noise, 0, data, at, run);
            }
            at += run;
        }
        return data;
    }

    /** Compresses as a layer would be: odd-sized writes and a flush before the end, as tar's finish() does. */
    private static byte[] compress(Compression compression, byte[] input, int threads, int threshold) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        POOLS.add(pool);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream compressor = LayerCompressor.open(compression, out, pool, threads, threshold)) {
            int at = 0;
            int step = 1;
            while (at < input.length) {
                int n = Math.min(input.length - at, step);
                compressor.write(input, at, n);
                at += n;
                step = step * 3 % 70_001 + 1;
            }
            compressor.flush();
        }
        return out.toByteArray();
    }

    private Path save(String name, byte[] bytes) throws IOException {
        Path file = tmp.resolve(name);
        Files.write(file, bytes);
        return file;
    }

    @Test
    void aBigGzipLayerIsOneValidGzipStreamThatGunzipRestores() throws IOException {
        byte[] input = layerLike(5 * ParallelGzipOutputStream.BLOCK + 12_345, 1);
        Path original = save("layer.tar", input);
        Path compressed = save("layer.tar.gz", compress(Compression.gzip(), input, 4, THRESHOLD));

        sh("gzip -t '" + compressed + "'");
        sh("gzip -dc '" + compressed + "' > '" + tmp.resolve("restored") + "'");
        assertEquals(sha256sum(original), sha256sum(tmp.resolve("restored")));
        // one member: gzip -l reads the size from the single trailer
        String listing = sh("gzip -l '" + compressed + "'");
        assertTrue(listing.contains(" " + input.length + " "), listing);
        assertTrue(Files.size(compressed) < input.length * 3L / 4, "the text half compresses: " + Files.size(compressed));
    }

    /**
     * The gateway compresses a 100 MB COPY while it serves pulls: garbage of several times the layer's
     * size, in 1 MiB arrays still in flight at each young collection, filled its old generation to the
     * heap cap. Blocks are recycled, so a long layer allocates less than half its own size.
     */
    @Test
    void aLongGzipLayerRecyclesItsBlocksAndStillRestores() throws Exception {
        byte[] input = layerLike(48 * ParallelGzipOutputStream.BLOCK + 777, 7);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        POOLS.add(pool);
        long[] threads = {Thread.currentThread().getId(), pool.submit(() -> Thread.currentThread().getId()).get()};
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = LongStream.of(mx.getThreadAllocatedBytes(threads)).sum();
        Path compressed = tmp.resolve("long.tar.gz");
        try (OutputStream compressor = LayerCompressor.open(Compression.gzip(), new BufferedOutputStream(Files.newOutputStream(compressed)),
                pool, 2, THRESHOLD)) {
            for (int at = 0; at < input.length; at += 64 * 1024) {
                compressor.write(input, at, Math.min(64 * 1024, input.length - at));
            }
        }
        long allocated = LongStream.of(mx.getThreadAllocatedBytes(threads)).sum() - before;

        assertTrue(allocated < input.length / 2, "allocated " + allocated / 1024 / 1024 + " MiB for a layer of "
                + input.length / 1024 / 1024 + " MiB");
        sh("gzip -dc '" + compressed + "' > '" + tmp.resolve("restored") + "'");
        assertEquals(sha256sum(save("long.tar", input)), sha256sum(tmp.resolve("restored")));
    }

    @Test
    void aBigZstdLayerIsOneValidZstdStreamThatZstdRestores() throws IOException {
        byte[] input = layerLike(24 * 1024 * 1024, 2);
        Path original = save("layer.tar", input);
        Path compressed = save("layer.tar.zst", compress(Compression.zstd(), input, 4, THRESHOLD));

        sh("zstd -q -t '" + compressed + "'");
        sh("zstd -q -dc '" + compressed + "' > '" + tmp.resolve("restored") + "'");
        assertEquals(sha256sum(original), sha256sum(tmp.resolve("restored")));
    }

    @Test
    void gzipBytesAreTheSameTwiceAndWhateverTheNumberOfCores() throws IOException {
        byte[] input = layerLike(6 * ParallelGzipOutputStream.BLOCK + 7, 3);
        byte[] one = compress(Compression.gzip(), input, 1, THRESHOLD);
        assertArrayEquals(one, compress(Compression.gzip(), input, 1, THRESHOLD));
        assertArrayEquals(one, compress(Compression.gzip(), input, 2, THRESHOLD));
        assertArrayEquals(one, compress(Compression.gzip(), input, 8, THRESHOLD));
        assertArrayEquals(compress(Compression.gzip(9), input, 1, THRESHOLD), compress(Compression.gzip(9), input, 3, THRESHOLD));
    }

    @Test
    void zstdBytesAreTheSameTwiceAndWhateverTheNumberOfCores() throws IOException {
        byte[] input = layerLike(24 * 1024 * 1024, 4);
        byte[] one = compress(Compression.zstd(), input, 1, THRESHOLD);
        assertArrayEquals(one, compress(Compression.zstd(), input, 1, THRESHOLD));
        assertArrayEquals(one, compress(Compression.zstd(), input, 2, THRESHOLD));
        assertArrayEquals(one, compress(Compression.zstd(), input, 6, THRESHOLD));
    }

    @Test
    void aSmallLayerIsCompressedExactlyAsBeforeSoItsDigestDoesNotChange() throws IOException {
        byte[] input = layerLike(THRESHOLD - 1000, 5);

        ByteArrayOutputStream gzip = new ByteArrayOutputStream();
        GzipParameters parameters = new GzipParameters();
        parameters.setCompressionLevel(6);
        parameters.setModificationTime(0);
        try (OutputStream old = new GzipCompressorOutputStream(gzip, parameters)) {
            old.write(input);
            old.flush();
        }
        assertArrayEquals(gzip.toByteArray(), compress(Compression.gzip(), input, 4, THRESHOLD));

        ByteArrayOutputStream zstd = new ByteArrayOutputStream();
        try (OutputStream old = new ZstdCompressorOutputStream(zstd, 3)) {
            old.write(input);
            old.flush();
        }
        assertArrayEquals(zstd.toByteArray(), compress(Compression.zstd(), input, 4, THRESHOLD));
    }

    @Test
    void aBigLayerThroughTheWriterUnpacksWithGnuTarAndKeepsItsDigestAcrossRuns() throws IOException {
        Path big = save("big.bin", layerLike(LayerCompressor.PARALLEL_THRESHOLD + 3 * ParallelGzipOutputStream.BLOCK, 6));
        List<LayerEntry> entries = List.of(LayerEntry.file("data/big.bin", big), LayerEntry.directory("data"));
        LayerWriter writer = LayerWriter.reproducible(Compression.gzip(), java.time.Instant.parse("2024-05-01T10:00:00Z"));

        WrittenLayer first = writer.write(entries, tmp.resolve("a.tar.gz"));
        WrittenLayer second = writer.write(entries, tmp.resolve("b.tar.gz"));

        assertEquals(first.digest(), second.digest());
        assertEquals("sha256:" + sha256sum(tmp.resolve("a.tar.gz")), first.digest().toString());
        sh("gzip -dc '" + tmp.resolve("a.tar.gz") + "' > '" + tmp.resolve("a.tar") + "'");
        assertEquals("sha256:" + sha256sum(tmp.resolve("a.tar")), first.diffId().toString());
        Files.createDirectories(tmp.resolve("out"));
        sh("tar -xf '" + tmp.resolve("a.tar") + "' -C '" + tmp.resolve("out") + "'");
        assertEquals(sha256sum(big), sha256sum(tmp.resolve("out/data/big.bin")));
    }

    @Test
    void randomBlocksAreStoredUnsearchedAndGunzipStillRestoresTheLayer() throws IOException {
        byte[] noise = new byte[ParallelGzipOutputStream.BLOCK];
        new Random(7).nextBytes(noise);
        byte[] previous = layerLike(ParallelGzipOutputStream.BLOCK, 8);
        // what level 0 writes: stored blocks, no search
        assertArrayEquals(deflate(noise, noise.length, null, 0),
                deflate(noise, noise.length, previous, 6));

        byte[] input = new byte[4 * ParallelGzipOutputStream.BLOCK + 999];
        System.arraycopy(previous, 0, input, 0, previous.length);
        new Random(9).nextBytes(noise);
        System.arraycopy(noise, 0, input, ParallelGzipOutputStream.BLOCK, noise.length);
        System.arraycopy(layerLike(2 * ParallelGzipOutputStream.BLOCK + 999, 10), 0, input, 2 * ParallelGzipOutputStream.BLOCK,
                2 * ParallelGzipOutputStream.BLOCK + 999);
        Path original = save("mixed.tar", input);
        Path compressed = save("mixed.tar.gz", compress(Compression.gzip(), input, 2, THRESHOLD));
        sh("gzip -t '" + compressed + "'");
        sh("gzip -dc '" + compressed + "' > '" + tmp.resolve("restored") + "'");
        assertEquals(sha256sum(original), sha256sum(tmp.resolve("restored")));
    }

    @Test
    void aBlockIsCompressedWhenAnyProbeOrRepetitionWithinTheWindowShrinks() {
        int block = ParallelGzipOutputStream.BLOCK;
        Random random = new Random(11);
        byte[] noise = new byte[block];
        random.nextBytes(noise);
        assertTrue(ParallelGzipOutputStream.incompressible(noise, block));

        byte[] textAtTheEnd = noise.clone();
        byte[] text = "key = value of a config file\n".repeat(ParallelGzipOutputStream.PROBE / 29 + 1)
                .substring(0, ParallelGzipOutputStream.PROBE).getBytes(StandardCharsets.UTF_8);
        System.arraycopy(text, 0, textAtTheEnd, block - text.length, text.length);
        assertFalse(ParallelGzipOutputStream.incompressible(textAtTheEnd, block));

        // random at every scale a probe could see alone, yet repeating every 20 KiB: deflate's window finds it
        byte[] repeating = new byte[block];
        byte[] chunk = new byte[20 * 1024];
        random.nextBytes(chunk);
        for (int i = 0; i < block; i++) {
            repeating[i] = chunk[i % chunk.length];
        }
        assertFalse(ParallelGzipOutputStream.incompressible(repeating, block));
        assertTrue(deflate(repeating, block, null, 6).length < block / 10);
        // too short to probe: compressed as asked
        assertFalse(ParallelGzipOutputStream.incompressible(noise, 4 * ParallelGzipOutputStream.PROBE - 1));
    }

    private static byte[] deflate(byte[] input, int length, byte[] dictionary, int level) {
        ParallelGzipOutputStream.Deflated deflated = ParallelGzipOutputStream.deflate(input, length, dictionary, level, new byte[64]);
        return Arrays.copyOf(deflated.bytes(), deflated.length());
    }
}
