package dev.kiln.app.http;

import io.quarkus.test.junit.QuarkusTestProfile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;

/** Runs the registry with an htpasswd file of bcrypt hashes, as {@code htpasswd -B} writes them. */
public class HtpasswdProfile implements QuarkusTestProfile {
    static final String USER = "alice";
    static final String PASSWORD = "s3cret:with colon";
    static final Path FILE = Path.of("target", "test-htpasswd");

    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    static String valid() {
        return basic(USER, PASSWORD);
    }

    protected boolean anonymousPull() {
        return true;
    }

    @Override
    public Map<String, String> getConfigOverrides() {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        String hash = OpenBSDBCrypt.generate("2y", PASSWORD.toCharArray(), salt, 5);
        try {
            Files.createDirectories(FILE.getParent());
            Files.writeString(FILE, "# test users\n" + USER + ":" + hash + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Map.of("kiln.htpasswd", FILE.toString(), "kiln.anonymous-pull", String.valueOf(anonymousPull()));
    }

    /** The same users, but reads need credentials too. */
    public static class NoAnonymousPull extends HtpasswdProfile {
        @Override
        protected boolean anonymousPull() {
            return false;
        }
    }
}
