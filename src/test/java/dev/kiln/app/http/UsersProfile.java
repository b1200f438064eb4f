package dev.kiln.app.http;

import io.quarkus.test.junit.QuarkusTestProfile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.Map;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;

/** Three users, alice, bob and the admin carol, each with the password {@code <name>-pw}; a low failure limit. */
public class UsersProfile implements QuarkusTestProfile {
    static final Path FILE = Path.of("target", "test-htpasswd-users");
    static final int MAX_FAILURES = 3;

    static String basic(String user) {
        return HtpasswdProfile.basic(user, user + "-pw");
    }

    @Override
    public Map<String, String> getConfigOverrides() {
        StringBuilder file = new StringBuilder();
        for (String user : new String[] {"alice", "bob", "carol"}) {
            byte[] salt = new byte[16];
            new SecureRandom().nextBytes(salt);
            file.append(user).append(':').append(OpenBSDBCrypt.generate("2y", (user + "-pw").toCharArray(), salt, 6)).append('\n');
        }
        try {
            Files.createDirectories(FILE.getParent());
            Files.writeString(FILE, file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, String> config = new HashMap<>();
        config.put("kiln.htpasswd", FILE.toString());
        config.put("kiln.anonymous-pull", "false");
        config.put("kiln.auth.admins", "carol");
        config.put("kiln.auth.max-failures", String.valueOf(maxFailures()));
        return config;
    }

    protected int maxFailures() {
        return MAX_FAILURES;
    }

    /** The same users, with a limit no test reaches: a Quarkus of its own, so no other test's failures count. */
    public static class Tenants extends UsersProfile {
        @Override
        protected int maxFailures() {
            return 1000;
        }
    }
}
