package dev.kiln.builder.sandbox;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * kaniko's way: the rootfs is {@code /} itself and the command runs directly, without isolation.
 * Only sane inside a dedicated, throw-away executor container, so it refuses to run unless told
 * explicitly ({@code force}) or the container says so ({@code KILN_EXECUTOR_CONTAINER=1}).
 * {@code /etc/resolv.conf} and {@code /etc/hosts} are the container's; {@code --mount}s are copies
 * placed in {@code /} for the command and taken out after it ({@link InPlaceMounts}), since a pod may
 * not mount; background processes the command leaves are killed through the process tree.
 */
public final class InPlaceSandbox implements Sandbox {
    public static final String MARKER = "KILN_EXECUTOR_CONTAINER";

    private final boolean force;

    public InPlaceSandbox(boolean force) {
        this.force = force;
    }

    /** Whether this process may run RUN steps on its own root filesystem. */
    public static boolean allowed(boolean force) {
        return force || "1".equals(System.getenv(MARKER));
    }

    @Override
    public String name() {
        return "in-place";
    }

    @Override
    public ExecResult run(RunSpec spec) throws IOException, InterruptedException {
        if (spec.overlay() != null) {
            throw new SandboxException("the in-place sandbox cannot run a command on an overlay");
        }
        if (!allowed(force)) {
            throw new SandboxException("the in-place sandbox runs RUN commands on this machine's own root "
                    + "filesystem; it is only for a dedicated executor container. Set " + MARKER
                    + "=1 in that container, or pass --force");
        }
        if (!spec.rootfs().toRealPath().equals(Path.of("/"))) {
            throw new SandboxException("the in-place sandbox needs the rootfs to be /, not " + spec.rootfs());
        }
        // the mounts are copies of this sandbox's own, so the shared set-up must not plan mount points
        RunSpec unmounted = new RunSpec(spec.rootfs(), spec.argv(), spec.env(), spec.user(), spec.workdir(), spec.network(),
                List.of(), spec.hostname(), spec.stdout(), spec.stderr(), spec.timeout(), spec.cancellation(), null, spec.policy(),
                spec.restoredDirs());
        try (RunSetup setup = RunSetup.prepare(unmounted, ProcessRunner.currentUid() == 0, false);
             InPlaceMounts mounts = InPlaceMounts.place(spec)) {
            List<String> command = new ArrayList<>();
            String setpriv = ProcessRunner.hostTool("setpriv");
            if (setpriv != null) {
                command.addAll(List.of(setpriv, "--pdeathsig", "KILL"));
                if (!setup.user.isRoot()) {
                    command.addAll(List.of("--reuid=" + setup.user.uid(), "--regid=" + setup.user.gid(),
                            setup.groups.isEmpty() ? "--clear-groups" : "--groups=" + setup.groups.stream()
                                    .map(String::valueOf).collect(java.util.stream.Collectors.joining(","))));
                }
                command.add("--");
            } else if (!setup.user.isRoot()) {
                throw new SandboxException("switching to USER " + spec.user() + " needs util-linux's setpriv");
            }
            int program = command.size();
            command.addAll(spec.argv());
            // the environment (secrets included) is the process's own, never on a command line
            Map<String, String> env = new java.util.LinkedHashMap<>();
            for (String e : spec.env()) {
                int eq = e.indexOf('=');
                env.put(e.substring(0, eq), e.substring(eq + 1));
            }
            if (program == 0) {
                // setpriv looks the program up on the RUN's PATH; without it, ProcessBuilder would use ours
                command.set(0, resolve(command.get(0), env.get("PATH")));
            }
            ProcessRunner.Outcome outcome = ProcessRunner.run(command, env, setup.scaffold.root().resolve(spec.workdir()),
                    spec.stdout(), spec.stderr(), spec.timeout(), spec.cancellation());
            if (outcome.result().succeeded()) {
                mounts.keepCaches();
            }
            return outcome.result();
        }
    }

    /** An exec-form command's program on the RUN's own PATH, as {@code env} would have found it. */
    private static String resolve(String program, String path) throws SandboxException {
        if (program.contains("/")) {
            return program;
        }
        for (String dir : (path == null ? ProcessRunner.HOST_PATH : path).split(":")) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, program);
            if (java.nio.file.Files.isExecutable(p) && !java.nio.file.Files.isDirectory(p)) {
                return p.toString();
            }
        }
        throw new SandboxException(program + ": not found on the RUN's PATH");
    }
}
