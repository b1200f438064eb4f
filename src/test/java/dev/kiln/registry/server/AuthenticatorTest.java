package dev.kiln.registry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuthenticatorTest {
    @TempDir
    Path dir;

    private Htpasswd htpasswd(int cost) throws Exception {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        Path file = dir.resolve("htpasswd");
        Files.writeString(file, "alice:" + OpenBSDBCrypt.generate("2y", "right".toCharArray(), salt, cost) + "\n");
        return Htpasswd.load(file);
    }

    @Test
    void aVerifiedPairIsRememberedAndAWrongOneIsNot() throws Exception {
        Authenticator auth = new Authenticator(htpasswd(4), Duration.ofMinutes(1), 3, Duration.ofMinutes(1));
        assertEquals(Optional.empty(), auth.cached("alice", "right"));
        assertTrue(auth.verify("alice", "right", "10.0.0.1"));
        assertEquals(Optional.of("alice"), auth.cached("alice", "right"));
        assertFalse(auth.verify("alice", "wrong", "10.0.0.1"));
        assertEquals(Optional.empty(), auth.cached("alice", "wrong"));
    }

    @Test
    void failuresAreCountedPerClientAndPerUser() throws Exception {
        Authenticator auth = new Authenticator(htpasswd(4), Duration.ofMinutes(1), 2, Duration.ofMinutes(1));
        assertTrue(auth.retryAfter("alice", "10.0.0.1").isZero());
        auth.verify("alice", "a", "10.0.0.1");
        auth.verify("nobody", "b", "10.0.0.1");
        Duration wait = auth.retryAfter("bob", "10.0.0.1");
        assertTrue(wait.compareTo(Duration.ZERO) > 0 && wait.compareTo(Duration.ofMinutes(1)) <= 0, wait.toString());
        assertTrue(auth.retryAfter("bob", "10.0.0.2").isZero(), "another client naming another user is not limited");
        auth.verify("alice", "c", "10.0.0.3");
        assertFalse(auth.retryAfter("alice", "10.0.0.4").isZero(), "two failures for alice from anywhere limit her name");
    }

    /**
     * An unknown user costs a bcrypt like a known one: the answer's timing must not tell which names
     * exist. Generous bounds, since only the class of the timing matters (microseconds vs milliseconds).
     */
    @Test
    void anUnknownUserTakesAsLongAsAKnownOne() throws Exception {
        Htpasswd htpasswd = htpasswd(8);
        long known = median(() -> htpasswd.verify("alice", "wrong"));
        long unknown = median(() -> htpasswd.verify("mallory", "wrong"));
        assertTrue(unknown * 4 >= known, "unknown user " + unknown + " ns vs known user " + known + " ns");
        assertFalse(htpasswd.verify("mallory", "kiln-no-such-user"), "the dummy hash's password opens nothing");
    }

    private static long median(Runnable check) {
        long[] times = new long[5];
        for (int i = 0; i < times.length; i++) {
            long start = System.nanoTime();
            check.run();
            times[i] = System.nanoTime() - start;
        }
        Arrays.sort(times);
        return times[times.length / 2];
    }
}
