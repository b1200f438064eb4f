package dev.kiln.registry.client;

import java.io.IOException;

/**
 * A registry answered with an error, or could not be reached ({@code status} 0). Knows whether trying
 * again later may help, which decides whether a mirror may serve stale content instead.
 */
public class UpstreamException extends IOException {
    private final int status;
    private final String code;
    private final String retryAfter;

    public UpstreamException(int status, String code, String message) {
        this(status, code, message, null);
    }

    /** {@code retryAfter} is the upstream's {@code Retry-After} header as sent, or null. */
    public UpstreamException(int status, String code, String message, String retryAfter) {
        super(message);
        this.status = status;
        this.code = code;
        this.retryAfter = retryAfter;
    }

    public UpstreamException(String message, Throwable cause) {
        super(message, cause);
        this.status = 0;
        this.code = "UNAVAILABLE";
        this.retryAfter = null;
    }

    /** When the upstream asked to be called again ({@code Retry-After}), to pass on to clients; may be null. */
    public String retryAfter() {
        return retryAfter;
    }

    public int status() {
        return status;
    }

    /** The OCI error code the registry sent, or one derived from the status. */
    public String code() {
        return code;
    }

    /** Unreachable, throttled or failing upstreams may recover; a 404 or 401 will not. */
    public boolean transientFailure() {
        return status == 0 || status == 429 || status >= 500;
    }
}
