package dev.kiln.builder.dockerfile;

/**
 * Raised by the helpers that see only a fragment of a line; the caller that knows the
 * line number turns it into a {@link DockerfileParseException}. Callers outside the package
 * (e.g. {@link Mount#resolve}) see it as a plain {@link DockerfileException}.
 */
final class InvalidSyntax extends DockerfileException {

    InvalidSyntax(String reason) {
        super(reason);
    }
}
