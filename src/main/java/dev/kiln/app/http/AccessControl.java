package dev.kiln.app.http;

import dev.kiln.registry.server.Htpasswd;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import java.util.Map;

/** Who may do what: with an htpasswd file, writes need a valid user, and reads too unless pulls are anonymous. */
public final class AccessControl {
    private static final String CHALLENGE = "Basic realm=\"Kiln\"";

    private final Htpasswd htpasswd;
    private final boolean anonymousPull;

    public AccessControl(Htpasswd htpasswd, boolean anonymousPull) {
        this.htpasswd = htpasswd;
        this.anonymousPull = anonymousPull;
    }

    public boolean enabled() {
        return htpasswd != null;
    }

    /** Throws UNAUTHORIZED unless the request may proceed. Credentials that are sent are always checked. */
    public void check(boolean write, String authorization) {
        if (htpasswd == null) {
            return;
        }
        if (authorization != null) {
            if (!htpasswd.verifyBasic(authorization)) {
                throw unauthorized("invalid username or password");
            }
            return;
        }
        if (write || !anonymousPull) {
            throw unauthorized(write ? "authentication required to push or delete" : "authentication required");
        }
    }

    private static RegistryException unauthorized(String message) {
        return new RegistryException(ErrorCode.UNAUTHORIZED, 401, message, null, Map.of("WWW-Authenticate", CHALLENGE));
    }
}
