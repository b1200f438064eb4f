package dev.kiln.registry.spec;

import java.util.Map;

/** A failure that the client sees as OCI error JSON; {@code status} may differ from the code's usual one. */
public class RegistryException extends RuntimeException {
    private final ErrorCode code;
    private final int status;
    private final Object detail;
    private final Map<String, String> headers;

    public RegistryException(ErrorCode code, String message) {
        this(code, code.status(), message, null, Map.of());
    }

    public RegistryException(ErrorCode code, String message, Object detail) {
        this(code, code.status(), message, detail, Map.of());
    }

    public RegistryException(ErrorCode code, int status, String message, Object detail, Map<String, String> headers) {
        super(message);
        this.code = code;
        this.status = status;
        this.detail = detail;
        this.headers = headers;
    }

    public ErrorCode code() {
        return code;
    }

    public int status() {
        return status;
    }

    public Object detail() {
        return detail;
    }

    public Map<String, String> headers() {
        return headers;
    }
}
