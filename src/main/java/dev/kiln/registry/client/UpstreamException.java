package dev.kiln.registry.client;

import java.io.IOException;

/**
 * A registry answered with an error, or could not be reached ({@code status} 0). Knows whether trying
 * again later may help, which decides whether a mirror may serve stale content instead.
 */
public class UpstreamException extends IOException {
    private final int status;
    private final String code;

    public UpstreamException(int status, String code, String message) {
        super(message);
        this.status = status;
        this.code = code;
    }

    public UpstreamException(String message, Throwable cause) {
        super(message, cause);
        this.status = 0;
        this.code = "UNAVAILABLE";
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
