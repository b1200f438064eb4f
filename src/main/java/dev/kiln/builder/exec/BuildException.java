package dev.kiln.builder.exec;

/** A build failure with a one-line message fit for the user (naming the Dockerfile line where there is one). */
public class BuildException extends Exception {
    public BuildException(String message) {
        super(message);
    }

    public BuildException(String message, Throwable cause) {
        super(message, cause);
    }
}
