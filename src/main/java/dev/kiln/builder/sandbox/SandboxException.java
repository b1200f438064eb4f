package dev.kiln.builder.sandbox;

import java.io.IOException;

/** The sandbox could not be set up (not: the command failed, which is an {@link ExecResult}). */
public class SandboxException extends IOException {
    public SandboxException(String message) {
        super(message);
    }

    public SandboxException(String message, Throwable cause) {
        super(message, cause);
    }
}
