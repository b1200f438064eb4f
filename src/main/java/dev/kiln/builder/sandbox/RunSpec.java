package dev.kiln.builder.sandbox;

import dev.kiln.builder.dockerfile.Command;
import dev.kiln.builder.dockerfile.Instruction;

import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Everything one RUN needs.
 *
 * @param rootfs       the root filesystem directory (for {@link InPlaceSandbox}: {@code /})
 * @param argv         the resolved command line; see {@link #argv(Instruction.Shell, Command)}
 * @param env          exactly the environment the command sees, {@code K=V} each; nothing is added
 * @param user         {@code name}, {@code uid}, {@code name:group}, {@code uid:gid}; null or empty for root
 * @param workdir      absolute working directory inside the rootfs, created when missing
 * @param network      {@link Network#HOST} shares the host network; the others isolate it
 * @param mounts       mounts for the duration of the run
 * @param hostname     the hostname the command sees
 * @param stdout       where the command's standard output goes
 * @param stderr       where its standard error goes (also the sandbox's own diagnostics)
 * @param timeout      kill the run after this long; null for no limit
 * @param cancellation a switch that kills the run; null for none (thread interruption also cancels)
 * @param overlay      run on an overlay of the rootfs whose upper directory collects every change,
 *                     leaving the rootfs itself untouched; null to run on the rootfs directly. Only
 *                     for a sandbox whose {@link Sandbox#overlayWorks} said yes
 * @param policy       the build's sandbox policy (seccomp, cgroup limits, egress rules)
 * @param restoredDirs told, after the run, the rootfs-relative path of each directory the sandbox
 *                     made mount points in and removed them again, with its mtime set back: only its
 *                     ctime still shows that, which nothing can set back; null for nobody
 */
public record RunSpec(Path rootfs, List<String> argv, List<String> env, String user, String workdir,
                      Network network, List<RunMount> mounts, String hostname, OutputStream stdout,
                      OutputStream stderr, Duration timeout, Cancellation cancellation, Overlay overlay,
                      SandboxPolicy policy, Consumer<String> restoredDirs) {

    /**
     * Where an overlay run puts its changes: both directories empty, on the rootfs's filesystem.
     * The upper directory's own mode and owner are what the command sees on {@code /}.
     */
    public record Overlay(Path upper, Path work) {
        public Overlay {
            Objects.requireNonNull(upper, "upper");
            Objects.requireNonNull(work, "work");
        }
    }

    /**
     * {@code RUN --network}. Only {@link #HOST} shares the host's network; {@link #DEFAULT} and
     * {@link #NONE} get a network namespace with loopback only, {@link #PROXY} that plus Kiln's
     * egress proxy at 127.0.0.1. The builder turns a RUN's {@code default} into {@code PROXY} (or,
     * asked for explicitly, {@code HOST}) only where builds are allowed the network.
     */
    public enum Network {
        DEFAULT, HOST, NONE, PROXY;

        /** Whether the command shares the host's network. */
        public boolean shared() {
            return this == HOST;
        }

        /** Whether the command may reach beyond loopback at all (the host's network or the proxy). */
        public boolean allowed() {
            return this == HOST || this == PROXY;
        }

        public static Network of(String value) {
            if (value == null || value.isEmpty() || value.equals("default")) {
                return DEFAULT;
            }
            return switch (value) {
                case "host" -> HOST;
                case "none" -> NONE;
                default -> throw new IllegalArgumentException("unsupported network mode " + value);
            };
        }
    }

    public RunSpec {
        Objects.requireNonNull(rootfs, "rootfs");
        argv = List.copyOf(argv);
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("empty command");
        }
        env = List.copyOf(env);
        for (String e : env) {
            if (e.indexOf('=') <= 0) {
                throw new IllegalArgumentException("environment entry is not K=V: " + e);
            }
        }
        workdir = workdir == null || workdir.isEmpty() ? "/" : workdir;
        if (!workdir.startsWith("/")) {
            throw new IllegalArgumentException("workdir must be absolute: " + workdir);
        }
        network = network == null ? Network.DEFAULT : network;
        mounts = List.copyOf(mounts);
        hostname = hostname == null || hostname.isEmpty() ? "kiln" : hostname;
        stdout = stdout == null ? OutputStream.nullOutputStream() : stdout;
        stderr = stderr == null ? OutputStream.nullOutputStream() : stderr;
        policy = policy == null ? SandboxPolicy.DEFAULT : policy;
        restoredDirs = restoredDirs == null ? dir -> { } : restoredDirs;
    }

    /** This run on an overlay of its rootfs; see {@link #overlay()}. */
    public RunSpec withOverlay(Overlay overlay) {
        return new RunSpec(rootfs, argv, env, user, workdir, network, mounts, hostname, stdout, stderr, timeout,
                cancellation, overlay, policy, restoredDirs);
    }

    /** This run telling {@code listener} where its mount points left only a ctime behind; see {@link #restoredDirs()}. */
    public RunSpec withRestoredDirs(Consumer<String> listener) {
        return new RunSpec(rootfs, argv, env, user, workdir, network, mounts, hostname, stdout, stderr, timeout,
                cancellation, overlay, policy, listener);
    }

    /** Docker's default shell when the image sets none. */
    public static final List<String> DEFAULT_SHELL = List.of("/bin/sh", "-c");

    /**
     * The argv for a RUN: exec form as written; shell form as the stage's SHELL followed by the
     * script (the SHELL already ends with its {@code -c}-like flag, as Docker's does).
     *
     * @param shell the stage's SHELL, or null for {@code ["/bin/sh", "-c"]}
     */
    public static List<String> argv(Instruction.Shell shell, Command command) {
        if (command instanceof Command.ExecForm exec) {
            return exec.args();
        }
        List<String> argv = new ArrayList<>(shell == null ? DEFAULT_SHELL : shell.shell());
        argv.add(((Command.ShellForm) command).script());
        return List.copyOf(argv);
    }

    public static Builder builder(Path rootfs, List<String> argv) {
        return new Builder(rootfs, argv);
    }

    public static final class Builder {
        private final Path rootfs;
        private final List<String> argv;
        private List<String> env = List.of();
        private String user;
        private String workdir = "/";
        private Network network = Network.DEFAULT;
        private final List<RunMount> mounts = new ArrayList<>();
        private String hostname;
        private OutputStream stdout;
        private OutputStream stderr;
        private Duration timeout;
        private Cancellation cancellation;
        private SandboxPolicy policy;

        private Builder(Path rootfs, List<String> argv) {
            this.rootfs = rootfs;
            this.argv = argv;
        }

        public Builder env(List<String> env) {
            this.env = env;
            return this;
        }

        public Builder user(String user) {
            this.user = user;
            return this;
        }

        public Builder workdir(String workdir) {
            this.workdir = workdir;
            return this;
        }

        public Builder network(Network network) {
            this.network = network;
            return this;
        }

        public Builder mount(RunMount mount) {
            this.mounts.add(mount);
            return this;
        }

        public Builder mounts(List<RunMount> mounts) {
            this.mounts.addAll(mounts);
            return this;
        }

        public Builder hostname(String hostname) {
            this.hostname = hostname;
            return this;
        }

        public Builder stdout(OutputStream out) {
            this.stdout = out;
            return this;
        }

        public Builder stderr(OutputStream err) {
            this.stderr = err;
            return this;
        }

        public Builder stdout(Consumer<String> lines) {
            return stdout(new LineSink(lines));
        }

        public Builder stderr(Consumer<String> lines) {
            return stderr(new LineSink(lines));
        }

        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        public Builder cancellation(Cancellation cancellation) {
            this.cancellation = cancellation;
            return this;
        }

        public Builder policy(SandboxPolicy policy) {
            this.policy = policy;
            return this;
        }

        public RunSpec build() {
            return new RunSpec(rootfs, argv, env, user, workdir, network, mounts, hostname, stdout, stderr,
                    timeout, cancellation, null, policy, null);
        }
    }
}
