package dev.kiln.builder.exec;

import dev.kiln.builder.sandbox.MountResolver;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Hides secret values in messages: every registered value (and each of its lines) becomes
 * {@code ****}. Values shorter than four characters are not hidden: masking them would shred
 * ordinary output.
 */
public final class Redactor {
    private final List<String> secrets = new ArrayList<>();

    public synchronized void add(String value) {
        for (String candidate : (value + "\n" + value.strip()).split("\n")) {
            String v = candidate.strip();
            if (v.length() >= 4 && !secrets.contains(v)) {
                secrets.add(v);
            }
        }
        secrets.sort(Comparator.comparingInt(String::length).reversed());
    }

    /** Registers each readable secret's value; an unreadable one is reported by the RUN that mounts it. */
    public void addAll(Map<String, MountResolver.SecretSource> sources) {
        for (MountResolver.SecretSource secret : sources.values()) {
            try {
                add(secret.value() != null ? new String(secret.value(), StandardCharsets.UTF_8)
                        : Files.readString(secret.file()));
            } catch (IOException | RuntimeException unreadable) {
                // the RUN that mounts it reports the problem
            }
        }
    }

    public synchronized String apply(String message) {
        String msg = message;
        for (String secret : secrets) {
            msg = msg.replace(secret, "****");
        }
        return msg;
    }
}
