package dev.kiln.registry.server;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Optional;

/**
 * Checks user names and passwords against an {@link Htpasswd} without letting bcrypt become the
 * bottleneck or an oracle. A verified pair is remembered for a short time under a sha256 of the pair
 * (never the password itself), so a client pulling fifty layers pays for bcrypt once. Failures are
 * counted per client address and per user; past the limit an attempt is refused before bcrypt runs,
 * which keeps a wrong-password flood from eating the CPU that valid users need. An unknown user is
 * checked against a dummy hash of the same cost, so the answer takes as long as for a known one.
 */
public final class Authenticator {
    private final Htpasswd htpasswd;
    private final Cache<String, String> verified;
    private final FailureCounter byClient;
    private final FailureCounter byUser;

    public Authenticator(Htpasswd htpasswd, Duration cacheTtl, int maxFailures, Duration failureWindow) {
        this.htpasswd = htpasswd;
        this.verified = Caffeine.newBuilder().expireAfterWrite(cacheTtl).maximumSize(10_000).build();
        this.byClient = new FailureCounter(maxFailures, failureWindow);
        this.byUser = new FailureCounter(maxFailures, failureWindow);
    }

    /** The user when this exact pair was verified within the cache's lifetime: cheap, safe on an event loop. */
    public Optional<String> cached(String user, String password) {
        return Optional.ofNullable(verified.getIfPresent(key(user, password)));
    }

    /**
     * How long a client must wait before its next attempt, or zero: checked before {@link #verify}
     * so a refused attempt costs no bcrypt. A pair in the cache is never refused, so a flood against
     * a user's name does not lock out the user's own running clients.
     */
    public Duration retryAfter(String user, String client) {
        Duration client0 = byClient.blockedFor(client);
        Duration user0 = byUser.blockedFor(user);
        return client0.compareTo(user0) >= 0 ? client0 : user0;
    }

    /** Runs bcrypt: blocking and slow on purpose, call it off the event loop. */
    public boolean verify(String user, String password, String client) {
        boolean ok = htpasswd.verify(user, password);
        if (ok) {
            verified.put(key(user, password), user);
        } else {
            byClient.failed(client);
            byUser.failed(user);
        }
        return ok;
    }

    private static String key(String user, String password) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(user.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(password.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Failures in fixed windows that start with the first failure. */
    static final class FailureCounter {
        private final int max;
        private final Duration window;
        private final Cache<String, Window> windows;

        FailureCounter(int max, Duration window) {
            this.max = max;
            this.window = window;
            this.windows = Caffeine.newBuilder().expireAfterWrite(window).maximumSize(100_000).build();
        }

        void failed(String key) {
            if (key != null) {
                windows.asMap().compute(key, (k, w) -> w == null ? new Window(System.nanoTime(), 1) : new Window(w.start, w.count + 1));
            }
        }

        Duration blockedFor(String key) {
            Window w = key == null ? null : windows.getIfPresent(key);
            if (w == null || w.count < max) {
                return Duration.ZERO;
            }
            long left = window.toNanos() - (System.nanoTime() - w.start);
            return left <= 0 ? Duration.ZERO : Duration.ofNanos(left);
        }

        private record Window(long start, int count) {
        }
    }
}
