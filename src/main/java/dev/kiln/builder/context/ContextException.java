package dev.kiln.builder.context;

import java.io.IOException;

/** A build context that cannot be had; the message is one line naming the context and the reason. */
public final class ContextException extends IOException {
    public ContextException(String message) {
        super(message);
    }

    public ContextException(String message, Throwable cause) {
        super(message, cause);
    }
}
