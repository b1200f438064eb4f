package dev.kiln.registry.client;

import java.io.IOException;

/** Content from a registry did not match the digest (or size) it was asked for. */
public class DigestMismatchException extends IOException {
    public DigestMismatchException(String message) {
        super(message);
    }
}
