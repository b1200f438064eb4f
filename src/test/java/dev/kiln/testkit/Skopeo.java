package dev.kiln.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs Debian's skopeo with a permissive signature policy (the host's policy.json does not matter).
 * Each instance reads credentials only from its own empty auth file, so nothing a person stored on
 * this machine changes what a test sees; credentials go on the command line.
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
        return tryRun(args).requireSuccess();
    }

    /** Runs {@code skopeo <args…>} and returns whatever happened, for commands that are meant to fail. */
    public ExecResult tryRun(String... args) {
        List<String> command = new ArrayList<>();
        command.add(executable.toString());
        command.add("--insecure-policy");
        command.addAll(List.of(args));
        return Tools.run(command, Map.of("REGISTRY_AUTH_FILE", authFile.toString()), TIMEOUT_SECONDS);
    }

    /**
     * {@code skopeo copy --retry-times 0 ARGS}, whatever happens ({@link ExecResult#requireSuccess()} when
     * it must work); plain-HTTP registries need the caller's --src/--dest-tls-verify=false.
     */
    public ExecResult copy(String... args) {
        List<String> all = new ArrayList<>(List.of("copy", "--retry-times", "0"));
        all.addAll(List.of(args));
        return tryRun(all.toArray(String[]::new));
    }

    /** Copies between plain-HTTP registries or to and from layouts; fails the test unless it works. */
    public void copyPlainHttp(String... args) {
        List<String> all = new ArrayList<>(List.of("--dest-tls-verify=false", "--src-tls-verify=false"));
        all.addAll(List.of(args));
        copy(all.toArray(String[]::new)).requireSuccess();
    }

    /** Pushes a layout image to a plain-HTTP registry; extra options (e.g. --format v2s2, --all, --dest-creds) first. */
    public void push(String source, String destination, String... options) {
        List<String> args = new ArrayList<>(List.of(options));
        args.addAll(List.of("--dest-tls-verify=false", source, "docker://" + destination));
        copy(args.toArray(String[]::new)).requireSuccess();
    }

    /** sha256 of the top manifest a {@code dir:} copy wrote. */
    public static String manifestDigest(Path dirCopy) throws IOException {
        return TestImages.sha256(Files.readAllBytes(dirCopy.resolve("manifest.json")));
    }
}
