package dev.kiln.store;

import dev.kiln.oci.Digest;
import java.io.IOException;

public class DigestMismatchException extends IOException {
    private final Digest expected;
    private final Digest actual;

    public DigestMismatchException(Digest expected, Digest actual, long size) {
        super("content digest " + actual + " (" + size + " bytes) does not match the expected " + expected);
        this.expected = expected;
        this.actual = actual;
    }

    public Digest expected() {
        return expected;
    }

    public Digest actual() {
        return actual;
    }
}
