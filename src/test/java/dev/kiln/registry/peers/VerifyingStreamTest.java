package dev.kiln.registry.peers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.Digest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class VerifyingStreamTest {
    private static byte[] random(int size) {
        byte[] data = new byte[size];
        new Random(size).nextBytes(data);
        return data;
    }

    /** A source that hands out at most {@code chunk} bytes per read, as a network stream does. */
    private static InputStream trickle(byte[] data, int chunk) {
        return new ByteArrayInputStream(data) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                return super.read(b, off, Math.min(len, chunk));
            }
        };
    }

    @Test
    void rightBytesPassThroughWhole() throws IOException {
        for (int chunk : new int[] {1, 7, 65536}) {
            byte[] data = random(100_003);
            try (InputStream in = new VerifyingStream(trickle(data, chunk), Digest.sha256(data))) {
                assertArrayEquals(data, in.readAllBytes(), "read in chunks of " + chunk);
            }
        }
    }

    @Test
    void anEmptyBlobVerifies() throws IOException {
        try (InputStream in = new VerifyingStream(InputStream.nullInputStream(), Digest.sha256(new byte[0]))) {
            assertEquals(-1, in.read());
        }
    }

    /** A corrupt or short body fails before its last byte: the reader never sees a complete-looking wrong blob. */
    @Test
    void wrongBytesFailBeforeTheLastByte() throws IOException {
        byte[] data = random(4096);
        byte[] corrupt = data.clone();
        corrupt[100] ^= 1;
        for (byte[] sent : new byte[][] {corrupt, Arrays.copyOf(data, 4000)}) {
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            VerifyingStream in = new VerifyingStream(trickle(sent, 512), Digest.sha256(data));
            IOException e = assertThrows(IOException.class, () -> {
                byte[] buffer = new byte[1000];
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    received.write(buffer, 0, n);
                }
            });
            assertTrue(e.getMessage().contains("hash to"), e.getMessage());
            assertEquals(sent.length - 1, received.size(), "everything but the held-back last byte");
        }
    }
}
