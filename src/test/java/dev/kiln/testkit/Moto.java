package dev.kiln.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What the two moto stand-ins share: {@link MotoS3} (plain S3, for the store) and
 * {@link MotoServer} (S3, STS and IAM checking signatures and policies, for contexts and
 * credentials) run the same Python, log the same way and stop the same way.
 */
final class Moto {
    private Moto() {
    }

    /** The Python that has moto: {@code KILN_MOTO_PYTHON}, the one beside moto_server when it is installed with pyenv, else python3. */
    static String python() {
        for (String candidate : List.of(System.getenv().getOrDefault("KILN_MOTO_PYTHON", ""), "/root/.pyenv/shims/python3")) {
            if (!candidate.isEmpty() && Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        return "python3";
    }

    /** The last lines of a moto log, for failure messages. */
    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** Waits up to 10 s for a stopping moto, then kills it. */
    static void awaitExit(Process process) {
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
