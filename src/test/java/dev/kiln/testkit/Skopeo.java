package dev.kiln.testkit;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs Debian's skopeo against a Kiln server. Each instance reads credentials only from its own empty
 * auth file, so nothing a person stored on this machine changes what a test sees.
 */
public final class Skopeo {
    private static final long TIMEOUT_SECONDS = 180;

    private final Path executable;
    private final Path authFile;

    public Skopeo(Path workDir) {
        this.executable = Tools.require("skopeo", "skopeo");
        try {
            Files.createDirectories(workDir);
            this.authFile = workDir.resolve("auth.json");
            Files.writeString(authFile, "{\"auths\":{}}");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs {@code skopeo <args…>}; fails the test with the command's output when it exits non-zero. */
    public ExecResult run(String... args) {
        ExecResult result = tryRun(args);
        if (!result.ok()) {
            fail("skopeo " + String.join(" ", args) + " exited " + result.exitCode() + ":\n" + result.output());
        }
        return result;
    }

    /** Runs {@code skopeo <args…>} and returns whatever happened, for commands that are meant to fail. */
    public ExecResult tryRun(String... args) {
        List<String> command = new ArrayList<>();
        command.add(executable.toString());
        command.add("--insecure-policy");
        command.addAll(List.of(args));
        return Tools.run(command, Map.of("REGISTRY_AUTH_FILE", authFile.toString()), TIMEOUT_SECONDS);
    }
}
