package dev.kiln.builder.sandbox;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code proot} (ptrace) fakes the chroot, the binds and the user, so it needs no privilege and no
 * namespaces, at a cost in speed. It does not isolate: only where the operator names it
 * ({@code sandbox=proot}), never chosen automatically. There is no pid namespace, so the command
 * can still signal every process of this uid; its {@code /proc} is an empty directory (the host's
 * would show every process's environment, the gateway's secrets included) and its {@code /dev}
 * only the standard null, zero, full, random, urandom and tty. What proot binds is not made
 * read-only, so read-only binds are bound from a private copy instead. It cannot isolate the
 * network, so it runs only RUNs that are allowed the network ({@link RunSpec.Network#allowed()}),
 * on the host's network (no egress proxy), and refuses the others. Leftover processes are killed through the process tree when the
 * command exits; one that re-parents itself away (double fork + setsid) can escape that. The
 * environment is the given one plus the {@code PWD} that proot sets.
 */
public final class ProotSandbox implements Sandbox {

    static final List<String> STANDARD_DEVICES = List.of("null", "zero", "full", "random", "urandom", "tty");

    @Override
    public String name() {
        return "proot";
    }

    @Override
    public ExecResult run(RunSpec spec) throws IOException, InterruptedException {
        if (spec.overlay() != null) {
            throw new SandboxException("the proot sandbox cannot run a command on an overlay");
        }
        String proot = ProcessRunner.hostTool("proot");
        if (proot == null) {
            throw new SandboxException("proot is not installed");
        }
        if (!spec.network().allowed()) {
            throw new SandboxException("the proot sandbox cannot isolate the network and this RUN may not use it; "
                    + "allow builds the network or use the namespaces sandbox");
        }
        try (RunSetup setup = RunSetup.prepare(spec, ProcessRunner.currentUid() == 0, true)) {
            List<String> command = new ArrayList<>();
            String setpriv = ProcessRunner.hostTool("setpriv");
            if (setpriv != null) {
                command.addAll(List.of(setpriv, "--pdeathsig", "KILL"));
            }
            command.addAll(List.of(proot, "-r", setup.scaffold.root().root().toString()));
            java.nio.file.Path emptyProc = java.nio.file.Files.createDirectory(setup.scratch.resolve("proc"));
            command.addAll(List.of("-b", emptyProc + ":/proc"));
            for (String d : STANDARD_DEVICES) {
                command.addAll(List.of("-b", "/dev/" + d));
            }
            int copies = 0;
            for (RunSetup.Planned m : setup.mounts) {
                String source;
                if (m.kind() == RunSetup.Kind.TMPFS) {
                    java.nio.file.Path empty = setup.scratch.resolve("tmpfs-" + copies++);
                    java.nio.file.Files.createDirectory(empty);
                    empty.toFile().setWritable(true, false);
                    source = empty.toString();
                } else if (m.readOnly() && m.source().startsWith(setup.scratch)) {
                    source = m.source().toString();
                } else if (m.readOnly()) {
                    java.nio.file.Path copy = setup.scratch.resolve("ro-" + copies++);
                    RunSetup.copy(m.source(), copy);
                    source = copy.toString();
                } else {
                    source = m.source().toString();
                }
                command.addAll(List.of("-b", source + ":" + setup.inside(m.target())));
            }
            command.addAll(List.of("-w", spec.workdir()));
            if (setup.user.isRoot()) {
                command.add("-0");
            } else {
                command.addAll(List.of("-i", setup.user.uid() + ":" + setup.user.gid()));
            }
            command.addAll(spec.argv());
            Map<String, String> env = new LinkedHashMap<>();
            for (String e : spec.env()) {
                int eq = e.indexOf('=');
                env.put(e.substring(0, eq), e.substring(eq + 1));
            }
            ProcessRunner.Tail err = new ProcessRunner.Tail(spec.stderr());
            ProcessRunner.Outcome outcome = ProcessRunner.run(command, env, null, spec.stdout(), err,
                    spec.timeout(), spec.cancellation());
            return outcome.result();
        }
    }
}
