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
 * Debian's buildah with everything of its own under one directory, so a test neither reads nor
 * changes the host's containers setup: image storage ({@code --root}/{@code --runroot}), a
 * registries.conf that sends {@code docker.io} to a local plain-HTTP registry, an accept-anything
 * signature policy, an empty auth file, and {@code TMPDIR} (where RUN cache mounts live).
 * Builds use chroot isolation, which needs no daemon and no user namespace setup.
 */
public final class Buildah implements AutoCloseable {
    private static final long TIMEOUT_SECONDS = 600;

    private final Path dir;
    private final Path executable;
    private final String driver;
    private final Map<String, String> env;
    private final Path policy;

    private Buildah(Path dir, Path executable, String driver, Map<String, String> env, Path policy) {
        this.dir = dir;
        this.executable = executable;
        this.driver = driver;
        this.env = env;
        this.policy = policy;
    }

    /**
     * Sets up buildah under {@code dir}; {@code registry} ({@code host:port}) is plain HTTP and
     * stands in for Docker Hub, so {@code FROM busybox} means {@code registry/library/busybox}.
     */
    public static Buildah start(Path dir, String registry) {
        Path executable = Tools.require("buildah", "buildah");
        try {
            Files.createDirectories(dir.resolve("tmp"));
            Path registries = dir.resolve("registries.conf");
            Files.writeString(registries, """
                    unqualified-search-registries = ["docker.io"]
                    short-name-mode = "permissive"
                    [[registry]]
                    prefix = "docker.io"
                    location = "%1$s"
                    insecure = true
                    [[registry]]
                    location = "%1$s"
                    insecure = true
                    """.formatted(registry));
            Path policy = dir.resolve("policy.json");
            Files.writeString(policy, "{\"default\":[{\"type\":\"insecureAcceptAnything\"}]}");
            Path auth = dir.resolve("auth.json");
            Files.writeString(auth, "{\"auths\":{}}");
            Map<String, String> env = Map.of(
                    "CONTAINERS_REGISTRIES_CONF", registries.toString(),
                    "REGISTRY_AUTH_FILE", auth.toString(),
                    "TMPDIR", dir.resolve("tmp").toString());
            // overlay is fast; where the filesystem under dir cannot host it (overlay on overlay), vfs copies instead.
            Buildah overlay = new Buildah(dir, executable, "overlay", env, policy);
            if (overlay.works()) {
                return overlay;
            }
            return new Buildah(dir, executable, "vfs", env, policy);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private boolean works() {
        ExecResult from = tryRun("from", "scratch");
        if (!from.ok()) {
            return false;
        }
        String container = from.stdout().trim();
        boolean mounted = tryRun("mount", container).ok();
        tryRun("umount", container);
        tryRun("rm", container);
        return mounted;
    }

    public String storageDriver() {
        return driver;
    }

    /**
     * {@code buildah bud --isolation chroot --layers=false --format docker} of {@code dockerfile}
     * in {@code context}, tagged {@code tag}; the docker format because OCI configs lose
     * HEALTHCHECK, SHELL and ONBUILD in buildah. Fails the test with buildah's output on error.
     */
    public ExecResult bud(Path context, Path dockerfile, String tag, List<String> extraArgs) {
        List<String> args = new ArrayList<>(List.of("bud", "--signature-policy", policy.toString(), "--isolation", "chroot",
                "--layers=false", "--format", "docker", "-f", dockerfile.toString(), "-t", tag));
        args.addAll(extraArgs);
        args.add(context.toString());
        return run(args.toArray(String[]::new));
    }

    /** Pushes a local image to its registry over plain HTTP. */
    public void push(String tag) {
        run("push", "--signature-policy", policy.toString(), "--tls-verify=false", tag);
    }

    /** Runs {@code command} in a new container of {@code image} (pulled if needed) and returns its stdout. */
    public String runIn(String image, String... command) {
        String container = run("from", "--signature-policy", policy.toString(), "--tls-verify=false", "--pull-always",
                image).stdout().trim();
        try {
            List<String> args = new ArrayList<>(List.of("run", "--isolation", "chroot", container, "--"));
            args.addAll(List.of(command));
            return run(args.toArray(String[]::new)).stdout();
        } finally {
            tryRun("rm", container);
        }
    }

    public ExecResult run(String... args) {
        ExecResult result = tryRun(args);
        if (!result.ok()) {
            fail("buildah " + String.join(" ", args) + " exited " + result.exitCode() + ":\n" + result.output());
        }
        return result;
    }

    public ExecResult tryRun(String... args) {
        List<String> command = new ArrayList<>(List.of(executable.toString(), "--root", dir.resolve("root").toString(),
                "--runroot", dir.resolve("runroot").toString(), "--storage-driver", driver));
        command.addAll(List.of(args));
        return Tools.run(command, env, TIMEOUT_SECONDS);
    }

    /** Removes every container and image, then the whole directory. */
    @Override
    public void close() {
        tryRun("rm", "--all");
        tryRun("rmi", "--all", "--force");
        Tools.run(List.of("rm", "-rf", dir.toString()), Map.of(), 120);
    }
}
