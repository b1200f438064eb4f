package dev.kiln.app.http;

import dev.kiln.registry.server.Authenticator;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.Set;

/**
 * Who may do what: with an htpasswd file, writes need a valid user, and reads too unless pulls are
 * anonymous. bcrypt runs on its own small pool, never on an event loop nor on the workers that serve
 * the store, so a flood of wrong passwords slows down nobody but itself.
 */
public final class AccessControl {
    private static final String CHALLENGE = "Basic realm=\"Kiln\"";

    /** What a request needs: the ping is challenged even when reads are anonymous. */
    public enum Need { PING, READ, WRITE }

    /** The caller of a request: {@code user} is null when anonymous; without an htpasswd file everybody is an admin. */
    public record Caller(String user, boolean admin) {
        static final Caller OPEN = new Caller(null, true);
        static final Caller ANONYMOUS = new Caller(null, false);

        /** Whether this caller may see what {@code owner} created. */
        public boolean owns(String owner) {
            return admin || (user != null && user.equals(owner));
        }
    }

    private final Authenticator authenticator;
    private final boolean anonymousPull;
    private final Set<String> admins;
    private final int bcryptThreads;
    private volatile WorkerExecutor bcrypt;

    public AccessControl(Authenticator authenticator, boolean anonymousPull, Set<String> admins, int bcryptThreads) {
        this.authenticator = authenticator;
        this.anonymousPull = anonymousPull;
        this.admins = Set.copyOf(admins);
        this.bcryptThreads = bcryptThreads;
    }

    public boolean enabled() {
        return authenticator != null;
    }

    /** Whether anonymous callers may read (always when there is no htpasswd file). */
    public boolean anonymousReads() {
        return authenticator == null || anonymousPull;
    }

    /**
     * The caller, or a failed future with UNAUTHORIZED or TOOMANYREQUESTS. Credentials that are sent
     * are always checked. {@code client} is the remote address, for the failure limit.
     */
    public Future<Caller> authenticate(Vertx vertx, String authorization, String client, Need need) {
        if (authenticator == null) {
            return Future.succeededFuture(Caller.OPEN);
        }
        if (isAnonymous(authorization)) {
            // the ping answers 401 without credentials, as distribution does: containers/image and
            // docker read the challenge only there, even when anonymous pulls are allowed elsewhere
            if (need == Need.READ && anonymousPull) {
                return Future.succeededFuture(Caller.ANONYMOUS);
            }
            return Future.failedFuture(unauthorized(need == Need.WRITE ? "authentication required to push or delete" : "authentication required"));
        }
        String[] pair = basic(authorization);
        if (pair == null) {
            return Future.failedFuture(unauthorized("invalid username or password"));
        }
        String user = pair[0];
        String password = pair[1];
        if (authenticator.cached(user, password).isPresent()) {
            return Future.succeededFuture(caller(user));
        }
        Duration wait = authenticator.retryAfter(user, client);
        if (!wait.isZero()) {
            long seconds = Math.max(1, (wait.toMillis() + 999) / 1000);
            return Future.failedFuture(new RegistryException(ErrorCode.TOOMANYREQUESTS, 429,
                    "too many failed logins, retry in " + seconds + " s", null, Map.of("Retry-After", Long.toString(seconds))));
        }
        return executor(vertx).executeBlocking(() -> authenticator.verify(user, password, client), false).compose(ok -> ok
                ? Future.succeededFuture(caller(user))
                : Future.failedFuture(unauthorized("invalid username or password")));
    }

    private Caller caller(String user) {
        return new Caller(user, admins.contains(user));
    }

    private WorkerExecutor executor(Vertx vertx) {
        WorkerExecutor executor = bcrypt;
        if (executor == null) {
            synchronized (this) {
                if (bcrypt == null) {
                    bcrypt = vertx.createSharedWorkerExecutor("kiln-bcrypt", bcryptThreads);
                }
                executor = bcrypt;
            }
        }
        return executor;
    }

    /** {@code [user, password]} of a Basic header, or null when it is not one. */
    private static String[] basic(String authorization) {
        String value = authorization.trim();
        if (!value.regionMatches(true, 0, "Basic ", 0, 6)) {
            return null;
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(value.substring(6).trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
        int colon = decoded.indexOf(':');
        return colon <= 0 ? null : new String[] {decoded.substring(0, colon), decoded.substring(colon + 1)};
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
            return false; // malformed: refused as invalid
        }
    }

    private static RegistryException unauthorized(String message) {
        return new RegistryException(ErrorCode.UNAUTHORIZED, 401, message, null, Map.of("WWW-Authenticate", CHALLENGE));
    }
}
