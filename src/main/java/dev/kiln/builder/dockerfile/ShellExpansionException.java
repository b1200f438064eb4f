package dev.kiln.builder.dockerfile;

/** Raised when a word cannot be expanded, e.g. unbalanced quotes or {@code ${VAR:?message}}. */
public final class ShellExpansionException extends RuntimeException {

    ShellExpansionException(String message) {
        super(message);
    }
}
