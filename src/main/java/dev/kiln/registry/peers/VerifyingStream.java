package dev.kiln.registry.peers;

import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Passes bytes through while hashing them, but holds the last byte back until the source has ended
 * and the bytes hash to the expected digest: a reader never gets a complete-looking body that is
 * wrong, it gets an error instead (as {@code InflightBlob} does for upstream downloads).
 */
public final class VerifyingStream extends FilterInputStream {
    private final Digest expected;
    private final Digester digester;
    private int held = -1;
    private boolean ended;

    public VerifyingStream(InputStream in, Digest expected) {
        super(in);
        this.expected = expected;
        this.digester = Digester.like(expected);
    }

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
        if (ended) {
            return -1;
        }
        while (true) {
            int n = in.read(target, offset, length);
            if (n < 0) {
                Digest actual = digester.digest();
                if (!actual.equals(expected)) {
                    throw new IOException("blob " + expected + " arrived as " + digester.length() + " bytes that hash to " + actual);
                }
                ended = true;
                if (held < 0) {
                    return -1;
                }
                target[offset] = (byte) held;
                held = -1;
                return 1;
            }
            if (n == 0) {
                continue;
            }
            digester.update(target, offset, n);
            int last = target[offset + n - 1] & 0xff;
            if (held >= 0) {
                System.arraycopy(target, offset, target, offset + 1, n - 1);
                target[offset] = (byte) held;
                held = last;
                return n;
            }
            held = last;
            if (n > 1) {
                return n - 1;
            }
        }
    }

    @Override
    public long skip(long n) {
        return 0; // every byte must pass through the hash
    }

    @Override
    public int available() {
        return 0;
    }

    @Override
    public boolean markSupported() {
        return false;
    }
}
