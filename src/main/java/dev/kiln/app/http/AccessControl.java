package dev.kiln.app.http;

import dev.kiln.registry.server.Htpasswd;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
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
        if (!isAnonymous(authorization)) {
            if (!htpasswd.verifyBasic(authorization)) {
                throw unauthorized("invalid username or password");
            }
            return;
        }
        if (write || !anonymousPull) {
            throw unauthorized(write ? "authentication required to push or delete" : "authentication required");
        }
    }

    /**
     * The {@code GET /v2/} ping, where clients learn how to authenticate (containers/image and docker
     * read the challenge only there): with an htpasswd file it answers 401 without credentials, as
     * distribution does, even when anonymous pulls are allowed on the other endpoints.
     */
    public void checkPing(String authorization) {
        if (htpasswd != null && isAnonymous(authorization)) {
            throw unauthorized("authentication required");
        }
        check(false, authorization);
    }

    /** No credentials, or empty ones: containers/image sends {@code Basic Og==} (":") when it has none. */
    private static boolean isAnonymous(String authorization) {
        if (authorization == null || authorization.isBlank()) {
            return true;
        }
        String value = authorization.trim();
        if (!value.regionMatches(true, 0, "Basic ", 0, 6)) {
            return false;
        }
        try {
            String decoded = new String(Base64.getDecoder().decode(value.substring(6).trim()), StandardCharsets.UTF_8);
            return decoded.isEmpty() || decoded.equals(":");
        } catch (IllegalArgumentException e) {
            return false; // malformed: verifyBasic rejects it
        }
    }

    private static RegistryException unauthorized(String message) {
        return new RegistryException(ErrorCode.UNAUTHORIZED, 401, message, null, Map.of("WWW-Authenticate", CHALLENGE));
    }
}
