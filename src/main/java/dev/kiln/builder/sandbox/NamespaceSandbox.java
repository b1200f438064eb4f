package dev.kiln.builder.sandbox;

import dev.kiln.builder.rootfs.Trees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Namespaces with util-linux: {@code unshare} gives the RUN its own mount, pid, uts and ipc
 * namespaces and a network namespace of its own; as a non-root caller also a user
 * namespace in which the caller is root (or, for a non-root USER, that user, with the namespace's
 * capabilities kept for the set-up).
 *
 * <p>Inside, a set-up script (the host's {@code /bin/sh}, in the new namespaces) binds the rootfs
 * onto itself and mounts a fresh {@code /proc} (with {@code /proc/sys}, {@code sysrq-trigger},
 * {@code irq}, {@code bus}, {@code fs} read-only and {@code kcore}, {@code keys}, ... masked, as
 * Docker does), a minimal {@code /dev} (tmpfs with null, zero, full, random, urandom, tty bound
 * from the host, a private devpts, shm), the generated {@code resolv.conf} and {@code hosts}, and
 * the RUN's mounts, all at mount points resolved inside the rootfs with {@link
 * dev.kiln.builder.rootfs.RootfsPath}. Then {@code pivot_root} makes the rootfs the namespace's root
 * (a chroot-style climb ends there) and the host's static busybox detaches the old root, changes
 * to the working directory, drops to the USER and execs the command with exactly the given
 * environment ({@code env -i}); the command is pid 1 of its namespace. A RUN started by root
 * continues in a nested user namespace in which every id maps to itself (written by this JVM), so
 * files keep their real owners but the RUN has no capability over the host: it cannot make device
 * nodes, remount or unmount what the set-up mounted (the mounts are locked), or write host-wide
 * sysctls. When the command exits, the kernel kills whatever it left behind and the mount
 * namespace goes away with every mount; mount points made for the run are then removed.
 *
 * <p>With {@link RunSpec#overlay()}, an overlayfs mount over the rootfs takes the place of that
 * bind: the command sees the rootfs, but every write lands in the upper directory, and the working
 * directory, when missing, is made inside the overlay so that it is part of the change too. The
 * scaffold's mount points are made in the rootfs beforehand, show through the overlay, and are
 * removed afterwards as always.
 *
 * <p>Without a static busybox on the host the sandbox refuses to run: every way in without one (a
 * chroot, {@code unshare --root}) would leave RUN more than it should have, as root even real
 * capabilities. The network is a namespace of its own with only loopback unless the spec shares the
 * host's ({@link RunSpec.Network#HOST}); a RUN allowed the network ({@link RunSpec.Network#PROXY})
 * keeps that namespace and reaches out only through the {@link EgressRelay}. The command runs with
 * {@code no_new_privs}. The script is {@link SetupScript}'s.
 */
public final class NamespaceSandbox implements Sandbox {
    private final boolean privileged;
    private final String toolSearchPath;
    /** Null: as the RUN's {@link SandboxPolicy} says. */
    private final Boolean seccomp;

    public NamespaceSandbox() {
        this(ProcessRunner.currentUid() == 0);
    }

    /** {@code privileged} false forces the user-namespace variant even as root (for tests). */
    public NamespaceSandbox(boolean privileged) {
        this(privileged, null, null);
    }

    /**
     * @param toolSearchPath where to look for the static busybox and bwrap instead of Kiln's tools
     *                       and the host's standard directories (for tests of a host without them)
     * @param seccomp        whether every RUN gets the seccomp filter (refused without bwrap), over
     *                       what the RUN's policy says; null to follow the policy
     */
    NamespaceSandbox(boolean privileged, String toolSearchPath, Boolean seccomp) {
        this.privileged = privileged;
        this.toolSearchPath = toolSearchPath;
        this.seccomp = seccomp;
    }

    @Override
    public String name() {
        return "namespaces";
    }

    @Override
    public ExecResult run(RunSpec spec) throws IOException, InterruptedException {
        String unshare = require("unshare");
        String busybox = requireStaticBusybox(toolSearchPath);
        boolean filtered = seccomp != null ? seccomp : spec.policy().seccomp();
        SeccompKit kit = filtered ? SeccompKit.require(toolSearchPath, busybox) : null;
        boolean proxied = spec.network() == RunSpec.Network.PROXY;
        List<String> relayTools = proxied ? EgressRelay.requireTools(toolSearchPath) : null;
        Path cgroup = Sandboxes.runCgroup(spec.policy());
        EgressRelay relay = null;
        try (RunSetup setup = RunSetup.prepare(spec, privileged, true)) {
            String relayNamespace = null;
            if (proxied) {
                relay = EgressRelay.open(setup.scratch, spec.policy().egress());
                if (privileged) {
                    relayNamespace = relay.startInOwnNamespace(relayTools, busybox, System.nanoTime() + 20_000_000_000L);
                }
            }
            if (kit != null) {
                // bwrap mounts its scratch root on /tmp before it pivots away from it
                setup.scaffold.dir("/tmp");
            }
            Path status = setup.scratch.resolve("started");
            boolean identityMapped = privileged;
            String script = SetupScript.of(setup, status, busybox, privileged, identityMapped,
                    privileged && ProcessRunner.hostTool("setpriv") != null, kit, proxied);
            if (relayNamespace != null) {
                // the namespace entered by pid must be the one seen before the start: never the host's
                script = "[ \"$(readlink /proc/self/ns/net)\" = " + q(relayNamespace) + " ] || { echo 'kiln-sandbox: not in "
                        + "the egress relay'\\''s network namespace' >&2; exit 125; }\n" + script;
            }
            if (cgroup != null) {
                // the set-up shell joins first, so every process of the RUN is counted from its start
                script = "echo $$ > " + q(cgroup.resolve("cgroup.procs")) + " || { echo 'kiln-sandbox: cannot join "
                        + "the RUN cgroup' >&2; exit 125; }\n" + script;
            }
            List<String> command = new ArrayList<>();
            String setpriv = ProcessRunner.hostTool("setpriv");
            if (setpriv != null) {
                command.addAll(List.of(setpriv, "--pdeathsig", "KILL"));
                if (privileged) {
                    // The USER's group and supplementary groups are set here, by util-linux, while
                    // still root (busybox can only clear the groups): only the uid changes last.
                    command.add("--regid=" + setup.user.gid());
                    command.add(setup.groups.isEmpty() ? "--clear-groups" : "--groups=" + joined(setup.groups));
                }
            }
            if (relayNamespace != null) {
                command.addAll(List.of(busybox, "nsenter", "-n" + relay.namespace(), "-F", "--"));
            }
            command.add(unshare);
            if (!privileged) {
                if (setup.user.uid() == 0) {
                    command.add("--map-root-user");
                } else {
                    command.addAll(List.of("--map-user=" + setup.user.uid(), "--map-group=" + setup.user.gid(),
                            "--keep-caps"));
                }
            }
            command.addAll(List.of("--mount", "--pid", "--uts", "--ipc", "--fork", "--kill-child=SIGKILL",
                    "--propagation", "private"));
            if (!spec.network().shared() && relayNamespace == null) {
                command.add("--net");
            }
            // the static busybox runs the set-up too: its shell runs mount, hostname and ip as
            // applets, several times faster to start than util-linux's dynamically linked tools
            command.addAll(List.of(busybox, "sh", "-c", script));
            // the RUN's environment (secrets from RUN --mount=type=secret,env= included) travels in
            // the environment, which only this uid and root can read, never on a command line
            Map<String, String> env = new java.util.LinkedHashMap<>();
            env.put("PATH", ProcessRunner.toolPath());
            env.put(SetupScript.ENV_VARIABLE, SetupScript.environmentScript(proxied ? EgressRelay.environment(spec.env()) : spec.env()));
            ProcessRunner.Tail err = new ProcessRunner.Tail(spec.stderr());
            ProcessRunner.Started started = identityMapped ? NamespaceProcesses::mapIdentity : null;
            if (relayNamespace != null) {
                EgressRelay r = relay;
                started = process -> {
                    r.awaitListening(System.nanoTime() + 20_000_000_000L);
                    // the set-up waits for this line before it goes on to the command
                    process.getOutputStream().write('\n');
                    process.getOutputStream().flush();
                    NamespaceProcesses.mapIdentity(process);
                };
            } else if (relay != null) {
                EgressRelay r = relay;
                started = process -> {
                    long deadline = System.nanoTime() + 20_000_000_000L;
                    Long pid = NamespaceProcesses.descendantIn(process, "net", deadline);
                    if (pid == null) {
                        return; // set-up failed before; the status check reports it
                    }
                    r.attach(pid, !privileged, relayTools, deadline);
                    // the set-up waits for this line before it goes on to the command
                    process.getOutputStream().write('\n');
                    process.getOutputStream().flush();
                    if (identityMapped) {
                        NamespaceProcesses.mapIdentity(process);
                    }
                };
            }
            ProcessRunner.Outcome outcome = ProcessRunner.run(command, env,
                    null, spec.stdout(), err, spec.timeout(), spec.cancellation(), started);
            if (!Files.exists(status) && !outcome.timedOut() && !outcome.cancelled()) {
                throw new SandboxException("namespace sandbox set-up failed (exit " + outcome.exitCode() + "): "
                        + err.text());
            }
            return outcome.result();
        } finally {
            if (relay != null) {
                relay.close();
            }
            if (cgroup != null) {
                CgroupV2.remove(cgroup);
            }
        }
    }

    private static String joined(List<Long> ids) {
        return ids.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(","));
    }

    private static final Map<String, Boolean> OVERLAY_WORKS = new ConcurrentHashMap<>();

    /**
     * Probes, once per filesystem and privilege, that overlayfs mounts in this sandbox's namespaces
     * with its upper directory under {@code scratch} and that it records deletions the way the
     * snapshotter reads them: a whiteout device for a deleted file, {@code user.overlay.opaque=y}
     * on a directory made anew.
     */
    @Override
    public boolean overlayWorks(Path rootfs, Path scratch) {
        if (!SetupScript.overlayPathOk(rootfs) || !SetupScript.overlayPathOk(scratch) || ProcessRunner.hostTool("unshare") == null) {
            return false;
        }
        String key;
        try {
            key = privileged + ":" + Files.getAttribute(scratch, "unix:dev") + ":" + Files.getAttribute(rootfs, "unix:dev");
        } catch (IOException | RuntimeException e) {
            return false;
        }
        return OVERLAY_WORKS.computeIfAbsent(key, k -> probeOverlay(scratch));
    }

    private boolean probeOverlay(Path scratch) {
        Path dir = null;
        try {
            dir = Files.createTempDirectory(scratch, ".kiln-overlay-probe-");
            Path lower = Files.createDirectories(dir.resolve("lower/d"));
            Files.writeString(lower.resolve("x"), "x");
            lower = lower.getParent();
            Files.writeString(lower.resolve("f"), "f");
            RunSpec.Overlay overlay = new RunSpec.Overlay(Files.createDirectory(dir.resolve("upper")),
                    Files.createDirectory(dir.resolve("work")));
            List<String> command = new ArrayList<>(List.of(ProcessRunner.hostTool("unshare")));
            if (!privileged) {
                command.add("--map-root-user");
            }
            command.addAll(List.of("--mount", "--propagation", "private", ProcessRunner.hostShell(), "-c",
                    "mount -t overlay overlay -o " + q(SetupScript.overlayOptions(lower, overlay)) + " " + q(lower)
                            + " && cd " + q(lower) + " && rm f && rm -r d && mkdir d"));
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD);
            pb.environment().clear();
            pb.environment().put("PATH", ProcessRunner.toolPath());
            Process p = pb.start();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            if (p.exitValue() != 0) {
                return false;
            }
            Path whiteout = overlay.upper().resolve("f");
            Object mode = Files.getAttribute(whiteout, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            Object rdev = Files.getAttribute(whiteout, "unix:rdev", LinkOption.NOFOLLOW_LINKS);
            var xattrs = Files.getFileAttributeView(overlay.upper().resolve("d"),
                    UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
            return ((Integer) mode & 0170000) == 0020000 && ((Long) rdev) == 0
                    && xattrs.list().contains("overlay.opaque");
        } catch (IOException | RuntimeException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            if (dir != null) {
                Trees.deleteQuietly(dir);
            }
        }
    }

    /** A statically linked busybox among Kiln's own tools or on the host (no ELF interpreter), or null. */
    static String staticBusybox() {
        return staticBusybox(null);
    }

    /** The same, searched for only in the directories of {@code searchPath} when it is given. */
    static String staticBusybox(String searchPath) {
        List<String> candidates = new ArrayList<>();
        for (String dir : (searchPath != null ? searchPath : ProcessRunner.toolPath()).split(":")) {
            candidates.add(dir + "/busybox");
        }
        if (searchPath == null) {
            candidates.addAll(List.of("/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"));
        }
        for (String candidate : candidates) {
            Path p = Path.of(candidate);
            if (Files.isExecutable(p) && Elf.isStatic(p)) {
                try {
                    return p.toRealPath().toString();
                } catch (IOException e) {
                    // try the next
                }
            }
        }
        return null;
    }

    /**
     * Without a static busybox nothing can take the old root away after pivot_root, and every
     * other way in (a chroot, unshare --root) leaves RUN with more than it should have: refuse.
     */
    static String requireStaticBusybox(String searchPath) throws SandboxException {
        String busybox = staticBusybox(searchPath);
        if (busybox == null) {
            throw new SandboxException(MISSING_BUSYBOX + " (looked in "
                    + (searchPath != null ? searchPath : ProcessRunner.toolPath()) + "); install busybox-static, "
                    + "or choose another sandbox explicitly with --sandbox / kiln.builds.sandbox");
        }
        return busybox;
    }

    static final String MISSING_BUSYBOX = "the namespace sandbox needs a statically linked busybox and there is none";

    private static String q(Path p) {
        return ProcessRunner.quote(p.toString());
    }

    private static String q(String s) {
        return ProcessRunner.quote(s);
    }

    private static String require(String tool) throws SandboxException {
        String path = ProcessRunner.hostTool(tool);
        if (path == null) {
            throw new SandboxException("the namespace sandbox needs util-linux's " + tool + ", which is not installed");
        }
        return path;
    }
}
