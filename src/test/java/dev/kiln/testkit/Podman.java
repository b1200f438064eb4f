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
 * Debian's podman as the kubelet stand-in: {@code podman kube play} runs Pods, Deployments,
 * ConfigMaps and PersistentVolumeClaims for real (../shared/podman-notes.md). On these machines
 * podman needs runc and explicit ulimits, given in a containers.conf of the test's own; pods use the
 * host's network so they reach the registries and gateways the tests start on 127.0.0.1.
 */
public final class Podman {
    private static final long TIMEOUT_SECONDS = 300;

    private final Path executable;
    private final Map<String, String> env;

    public Podman(Path workDir) {
        this.executable = Tools.require("podman", "podman");
        Tools.require("runc", "runc");
        Tools.require("catatonit", "catatonit");
        try {
            Files.createDirectories(workDir);
            Path conf = workDir.resolve("containers.conf");
            Files.writeString(conf, """
                    [containers]
                    default_ulimits = ["nofile=8192:8192", "nproc=8192:8192"]
                    [engine]
                    runtime = "runc"
                    """);
            this.env = Map.of("CONTAINERS_CONF", conf.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs {@code podman <args…>}; fails the test with the output when it exits non-zero. */
    public ExecResult run(String... args) {
        ExecResult result = tryRun(args);
        if (!result.ok()) {
            fail("podman " + String.join(" ", args) + " exited " + result.exitCode() + ":\n" + result.output());
        }
        return result;
    }

    public ExecResult tryRun(String... args) {
        List<String> command = new ArrayList<>();
        command.add(executable.toString());
        command.addAll(List.of(args));
        return Tools.run(command, env, TIMEOUT_SECONDS);
    }

    /** {@code kube play} on the host's network, pulling images over plain HTTP from the tests' registries. */
    public ExecResult play(Path yaml) {
        return run("kube", "play", "--network", "host", "--tls-verify=false", yaml.toString());
    }

    /** Removes what {@link #play} started; podman leaves the volumes behind (see {@link #removeVolume}). */
    public void down(Path yaml) {
        tryRun("kube", "down", yaml.toString());
    }

    public void removeVolume(String name) {
        tryRun("volume", "rm", "-f", name);
    }

    /**
     * A Secret as podman 4.3's {@code kube play} reads a secret volume: a podman secret holding a
     * Secret object whose data it writes out as files without decoding them. Replaces one of that name.
     */
    public void kubeSecret(String name, Map<String, String> files, Path dir) {
        try {
            Files.createDirectories(dir);
            Path json = dir.resolve("secret-" + name + ".json");
            Files.writeString(json, io.fabric8.kubernetes.client.utils.Serialization.asJson(Map.of("apiVersion", "v1", "kind", "Secret",
                    "metadata", Map.of("name", name), "data", files)));
            tryRun("secret", "rm", name);
            run("secret", "create", name, json.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A Secret as podman 4.3's {@code kube play} reads it for {@code env[].valueFrom.secretKeyRef}:
     * a podman secret holding a JSON object of base64 values (not the Secret object that secret
     * volumes want). Replaces one of that name.
     */
    public void envSecret(String name, Map<String, String> values, Path dir) {
        try {
            Files.createDirectories(dir);
            Path json = dir.resolve("env-secret-" + name + ".json");
            Map<String, String> encoded = new java.util.TreeMap<>();
            values.forEach((key, value) -> encoded.put(key, java.util.Base64.getEncoder()
                    .encodeToString(value.getBytes(java.nio.charset.StandardCharsets.UTF_8))));
            Files.writeString(json, io.fabric8.kubernetes.client.utils.Serialization.asJson(encoded));
            tryRun("secret", "rm", name);
            run("secret", "create", name, json.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The container's state as {@code podman inspect} reports it: status ("running", "exited", …) and exit code. */
    public State state(String container) {
        ExecResult r = tryRun("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}", container);
        if (!r.ok()) {
            return new State("missing", -1, false);
        }
        String[] parts = r.stdout().trim().split(" ");
        return new State(parts[0], Integer.parseInt(parts[1]), Boolean.parseBoolean(parts[2]));
    }

    /** The container's log with podman's timestamps, stdout and stderr interleaved as written. */
    public String logs(String container, boolean timestamps) {
        List<String> command = new ArrayList<>(List.of("sh", "-c", "exec \"$0\" logs \"$@\" 2>&1", executable.toString()));
        if (timestamps) {
            command.add("--timestamps");
        }
        command.add(container);
        return Tools.run(command, env, TIMEOUT_SECONDS).stdout();
    }

    public record State(String status, int exitCode, boolean oomKilled) {
        public boolean running() {
            return status.equals("running") || status.equals("created") || status.equals("configured");
        }

        public boolean ended() {
            return status.equals("exited") || status.equals("stopped");
        }
    }
}
