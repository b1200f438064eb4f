package dev.kiln.builder.dockerfile;

/** A Dockerfile that cannot be built as requested, e.g. an unknown {@code --target}. */
public class DockerfileException extends RuntimeException {

    public DockerfileException(String message) {
        super(message);
    }
}
