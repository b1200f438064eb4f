package dev.kiln.oci;

import java.util.HexFormat;
import java.util.Objects;
import java.util.regex.Pattern;

/** A content digest such as {@code sha256:…}; only algorithms Kiln can verify are accepted. */
public record Digest(String algorithm, String hex) implements Comparable<Digest> {
    private static final Pattern SHA256 = Pattern.compile("[a-f0-9]{64}");
    private static final Pattern SHA512 = Pattern.compile("[a-f0-9]{128}");

    public Digest {
        Objects.requireNonNull(algorithm);
        Objects.requireNonNull(hex);
        Pattern pattern = switch (algorithm) {
            case "sha256" -> SHA256;
            case "sha512" -> SHA512;
            default -> throw new InvalidDigestException("unsupported digest algorithm: " + algorithm);
        };
        if (!pattern.matcher(hex).matches()) {
            throw new InvalidDigestException("malformed " + algorithm + " digest: " + hex);
        }
    }

    public static Digest parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new InvalidDigestException("digest is missing");
        }
        int colon = text.indexOf(':');
        if (colon <= 0) {
            throw new InvalidDigestException("malformed digest: " + text);
        }
        return new Digest(text.substring(0, colon), text.substring(colon + 1));
    }

    public static boolean isDigest(String text) {
        return text != null && text.indexOf(':') > 0;
    }

    public static Digest sha256(byte[] bytes) {
        return Digester.sha256().update(bytes).digest();
    }

    static Digest of(String algorithm, byte[] raw) {
        return new Digest(algorithm, HexFormat.of().formatHex(raw));
    }

    /** The JDK name of the algorithm, as {@link java.security.MessageDigest} knows it. */
    String jdkAlgorithm() {
        return algorithm.equals("sha512") ? "SHA-512" : "SHA-256";
    }

    @Override
    public int compareTo(Digest other) {
        return toString().compareTo(other.toString());
    }

    @Override
    public String toString() {
        return algorithm + ":" + hex;
    }
}
