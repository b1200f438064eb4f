package dev.kiln.registry.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;

/** Users and bcrypt hashes from an Apache htpasswd file ({@code htpasswd -B}), as distribution accepts. */
public final class Htpasswd {
    private final Map<String, String> hashes;
    /** Checked for unknown users, at the highest cost in the file, so they take as long as known ones. */
    private final String dummy;

    private Htpasswd(Map<String, String> hashes) {
        this.hashes = hashes;
        int cost = hashes.values().stream().mapToInt(Htpasswd::cost).max().orElse(10);
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        this.dummy = OpenBSDBCrypt.generate("2y", "kiln-no-such-user".toCharArray(), salt, cost);
    }

    /** {@code $2y$05$…}: the cost is the two digits after the second {@code $}. */
    private static int cost(String hash) {
        int start = hash.indexOf('$', 1) + 1;
        return Integer.parseInt(hash.substring(start, start + 2));
    }

    public static Htpasswd load(Path file) throws IOException {
        Map<String, String> hashes = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).trim();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new IOException(file + ":" + (i + 1) + ": expected user:hash");
            }
            String hash = line.substring(colon + 1);
            if (!hash.matches("\\$2[aby]?\\$\\d\\d\\$.{53}")) {
                throw new IOException(file + ":" + (i + 1) + ": only bcrypt hashes are supported (create them with htpasswd -B)");
            }
            hashes.put(line.substring(0, colon), hash);
        }
        return new Htpasswd(hashes);
    }

    public boolean verify(String user, String password) {
        String hash = hashes.get(user);
        try {
            // the same work whether or not the user exists: the time taken must not tell which names do
            boolean ok = OpenBSDBCrypt.checkPassword(hash == null ? dummy : hash, password.toCharArray());
            return ok && hash != null;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
