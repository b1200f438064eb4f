package dev.kiln.oci;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** Computes a digest incrementally while bytes stream past, so no blob is ever held in memory. */
public final class Digester {
    private final String algorithm;
    private final MessageDigest md;
    private long length;

    private Digester(String algorithm, MessageDigest md) {
        this.algorithm = algorithm;
        this.md = md;
    }

    public static Digester sha256() {
        return forAlgorithm("sha256");
    }

    /** A digester of the same algorithm as {@code expected}, to verify content against it. */
    public static Digester like(Digest expected) {
        return forAlgorithm(expected.algorithm());
    }

    public static Digester forAlgorithm(String algorithm) {
        String jdk = switch (algorithm) {
            case "sha256" -> "SHA-256";
            case "sha512" -> "SHA-512";
            default -> throw new InvalidDigestException("unsupported digest algorithm: " + algorithm);
        };
        try {
            return new Digester(algorithm, MessageDigest.getInstance(jdk));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public Digester update(byte[] bytes) {
        return update(bytes, 0, bytes.length);
    }

    public Digester update(byte[] bytes, int offset, int len) {
        md.update(bytes, offset, len);
        length += len;
        return this;
    }

    public Digester update(ByteBuffer buffer) {
        length += buffer.remaining();
        md.update(buffer);
        return this;
    }

    public long length() {
        return length;
    }

    /** The digest of everything seen so far; the digester itself keeps going. */
    public Digest digest() {
        try {
            return Digest.of(algorithm, ((MessageDigest) md.clone()).digest());
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Digest digest(InputStream in, String algorithm) throws IOException {
        Digester digester = forAlgorithm(algorithm);
        byte[] buffer = new byte[256 * 1024];
        for (int n; (n = in.read(buffer)) > 0; ) {
            digester.update(buffer, 0, n);
        }
        return digester.digest();
    }
}
