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
 * host's ({@link RunSpec.Network#HOST}); the command runs with {@code no_new_privs}.
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
            if (proxied) {
                relay = EgressRelay.open(setup.scratch, spec.policy().egress());
            }
            if (kit != null) {
                // bwrap mounts its scratch root on /tmp before it pivots away from it
                setup.scaffold.dir("/tmp");
            }
            Path status = setup.scratch.resolve("started");
            boolean identityMapped = privileged;
            String script = script(setup, status, unshare, busybox, identityMapped,
                    privileged && ProcessRunner.hostTool("setpriv") != null, kit, proxied);
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
            if (!spec.network().shared()) {
                command.add("--net");
            }
            // the static busybox runs the set-up too: its shell runs mount, hostname and ip as
            // applets, several times faster to start than util-linux's dynamically linked tools
            command.addAll(List.of(busybox, "sh", "-c", script));
            // the RUN's environment (secrets from RUN --mount=type=secret,env= included) travels in
            // the environment, which only this uid and root can read, never on a command line
            Map<String, String> env = new java.util.LinkedHashMap<>();
            env.put("PATH", ProcessRunner.toolPath());
            env.put(ENV_VARIABLE, environmentScript(proxied ? EgressRelay.environment(spec.env()) : spec.env()));
            ProcessRunner.Tail err = new ProcessRunner.Tail(spec.stderr());
            ProcessRunner.Started started = identityMapped ? NamespaceSandbox::mapIdentity : null;
            if (relay != null) {
                EgressRelay r = relay;
                started = process -> {
                    long deadline = System.nanoTime() + 20_000_000_000L;
                    Long pid = descendantIn(process, "net", deadline);
                    if (pid == null) {
                        return; // set-up failed before; the status check reports it
                    }
                    r.attach(pid, !privileged, relayTools, deadline);
                    // the set-up waits for this line before it goes on to the command
                    process.getOutputStream().write('\n');
                    process.getOutputStream().flush();
                    if (identityMapped) {
                        mapIdentity(process);
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

    /** The variable that carries the RUN's environment to the last shell, which evaluates and drops it. */
    static final String ENV_VARIABLE = "KILN_RUN_ENV";

    /**
     * Shell code that leaves exactly {@code env} exported: busybox's shell exports PATH, PWD and
     * SHLVL of its own, so those go first. Names a shell cannot assign stay for {@code env} to set
     * (returned as its arguments after the marker line).
     */
    static String environmentScript(List<String> env) {
        StringBuilder s = new StringBuilder("unset ").append(ENV_VARIABLE).append(" PATH PWD OLDPWD SHLVL");
        for (String e : env) {
            String name = e.substring(0, e.indexOf('='));
            if (name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                s.append("; export ").append(ProcessRunner.quote(e));
            }
        }
        return s.toString();
    }

    /** The entries {@link #environmentScript} cannot export from a shell; {@code env} sets them. */
    private static List<String> unusualNames(List<String> env) {
        List<String> odd = new ArrayList<>();
        for (String e : env) {
            if (!e.substring(0, e.indexOf('=')).matches("[A-Za-z_][A-Za-z0-9_]*")) {
                odd.add(e);
            }
        }
        return odd;
    }

    /**
     * Root's RUN gets a user namespace too, with every uid and gid mapped to itself: files keep
     * their real owners, but its capabilities only reach what the namespaces own, so it cannot
     * create device nodes, mount block devices, load modules or write host-wide /proc/sys knobs.
     * newuidmap would refuse such a map, so this JVM (root) writes it once unshare made the namespace.
     */
    private static void mapIdentity(Process process) throws IOException, InterruptedException {
        Long pid = descendantIn(process, "user", System.nanoTime() + 20_000_000_000L);
        if (pid == null) {
            return; // set-up failed before; the status check reports it
        }
        Path proc = Path.of("/proc", Long.toString(pid));
        // both maps before stdin closes: the script goes on at its end of file
        Files.writeString(proc.resolve("gid_map"), "0 0 4294967295\n");
        Files.writeString(proc.resolve("uid_map"), "0 0 4294967295\n");
    }

    /**
     * The first process under {@code process} in a {@code type} namespace ({@code user}, {@code net})
     * other than this JVM's, or null when {@code process} exited before one appeared.
     */
    private static Long descendantIn(Process process, String type, long deadline)
            throws IOException, InterruptedException {
        Path own = Files.readSymbolicLink(Path.of("/proc/self/ns", type));
        // unshare --fork's one child is the process that ends up in the new namespaces; the
        // kernel lists it cheaply, where a walk of every process costs milliseconds a round
        Path children = Path.of("/proc", Long.toString(process.pid()), "task", Long.toString(process.pid()), "children");
        while (true) {
            List<Long> candidates = new ArrayList<>();
            try {
                for (String pid : Files.readString(children).trim().split("\\s+")) {
                    if (!pid.isEmpty()) {
                        candidates.add(Long.parseLong(pid));
                    }
                }
            } catch (IOException | NumberFormatException e) {
                process.descendants().forEach(h -> candidates.add(h.pid()));
            }
            for (long pid : candidates) {
                try {
                    if (!Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "ns", type)).equals(own)) {
                        return pid;
                    }
                } catch (IOException e) {
                    // gone or not yet there
                }
            }
            if (!process.isAlive()) {
                return null;
            }
            if (System.nanoTime() > deadline) {
                throw new SandboxException("the RUN's " + type + " namespace did not appear");
            }
            Thread.sleep(1);
        }
    }

    private String script(RunSetup setup, Path status, String unshare, String busybox, boolean identityMapped,
                          boolean groupsSet, SeccompKit kit, boolean proxied) throws IOException {
        RunSpec spec = setup.spec;
        StringBuilder s = new StringBuilder();
        s.append("fail() { echo \"kiln-sandbox: $*\" >&2; exit 125; }\n");
        String root = q(setup.scaffold.root().root());
        Fstab first = new Fstab();
        if (spec.overlay() == null) {
            // the rootfs becomes a mount of its own, so it can be made the namespace's root below
            first.bind(setup.scaffold.root().root(), setup.scaffold.root().root());
        } else {
            // an overlay mounted over the rootfs is a mount of its own too; every write lands in the
            // upper directory, which then is the change set. The mount points the scaffold made in
            // the rootfs show through it.
            s.append("mount -t overlay overlay -o ").append(q(overlayOptions(setup.scaffold.root().root(), spec.overlay())))
                    .append(' ').append(root).append(" || fail mounting the overlay\n");
            for (Path dir : setup.workdirToMake) {
                // chmod copies a directory the scaffold made for a mount point up into the overlay too
                s.append("{ [ -d ").append(q(dir)).append(" ] || mkdir ").append(q(dir)).append("; } && chmod 755 ")
                        .append(q(dir));
                if (privileged) {
                    s.append(" && chown ").append(setup.user.uid()).append(':').append(setup.user.gid()).append(' ')
                            .append(q(dir));
                }
                s.append(" || fail making the working directory ").append(q(spec.workdir())).append('\n');
            }
        }
        Path proc = setup.scaffold.dir("/proc");
        Path dev = setup.scaffold.dir("/dev");
        // the kernel's own hostname file for this uts namespace: no process, where /proc/sys is writable
        s.append("{ printf %s ").append(q(spec.hostname())).append(" > /proc/sys/kernel/hostname; } 2>/dev/null || hostname ")
                .append(q(spec.hostname())).append(" || fail setting the hostname\n");
        // The mounts go in two batches of one process each: the device files the second binds onto
        // need the /dev tmpfs of the first.
        first.mount("proc", proc, "nosuid,nodev,noexec");
        // as Docker does: host-wide knobs read-only, kernel memory and timers masked (the fresh
        // /proc shows what the host's does: one kernel). With the filter, bwrap mounts the RUN's
        // /proc (for the pid namespace it makes) and masks it the same way; the kernel lets a user
        // namespace mount a proc only while one without locked masks is there.
        for (String p : kit != null ? List.<String>of() : PROC_READ_ONLY) {
            if (Files.exists(Path.of("/proc", p), LinkOption.NOFOLLOW_LINKS)) {
                first.bind(proc.resolve(p), proc.resolve(p)).readOnly(proc.resolve(p));
            }
        }
        for (String p : kit != null ? List.<String>of() : PROC_MASKED) {
            if (Files.exists(Path.of("/proc", p), LinkOption.NOFOLLOW_LINKS)) {
                first.bind(Path.of("/dev/null"), proc.resolve(p));
            }
        }
        first.mount("tmpfs", dev, "mode=755,nosuid,size=65536k");
        Path firstFile = setup.scratch.resolve("fstab-1");
        first.write(firstFile);
        s.append("mount -a -T ").append(q(firstFile)).append(" || fail mounting the rootfs, /proc and /dev\n");
        // /dev's skeleton, made on the host side and copied in by one cp
        Path skeleton = Files.createDirectory(setup.scratch.resolve("dev"));
        Fstab second = new Fstab();
        for (String d : List.of("null", "zero", "full", "random", "urandom", "tty")) {
            if (Files.exists(Path.of("/dev", d))) {
                Files.createFile(skeleton.resolve(d));
                second.bind(Path.of("/dev", d), dev.resolve(d));
            }
        }
        Files.createDirectory(skeleton.resolve("pts"));
        Files.createDirectory(skeleton.resolve("shm"));
        for (String[] link : new String[][] {{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
                {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"}}) {
            Files.createSymbolicLink(skeleton.resolve(link[0]), Path.of(link[1]));
        }
        // capped, as Docker's 64 MiB: an uncapped tmpfs takes up to half the host's memory
        second.mount("tmpfs", dev.resolve("shm"), "mode=1777,nosuid,nodev,size=" + SHM_BYTES);
        if (kit != null) {
            // read-only: root's RUN owns these files inside its user namespace, and later RUNs exec them
            Path point = dev.resolve(SeccompKit.INSIDE.substring("/dev/".length()));
            Files.createDirectory(skeleton.resolve(point.getFileName()));
            second.bind(kit.dir, point).readOnly(point);
        }
        for (RunSetup.Planned m : setup.mounts) {
            if (m.kind() == RunSetup.Kind.TMPFS) {
                second.mount("tmpfs", m.target(), "mode=1777" + (m.sizeBytes() == null ? "" : ",size=" + m.sizeBytes()));
                continue;
            }
            second.rbind(m.source(), m.target());
            if (m.readOnly()) {
                second.readOnly(m.target());
            }
        }
        Path secondFile = setup.scratch.resolve("fstab-2");
        second.write(secondFile);
        s.append("cp -a ").append(q(skeleton)).append("/. ").append(q(dev)).append(" || fail making /dev\n");
        // a private devpts where the kernel allows one; without it /dev/ptmx leads nowhere
        s.append("mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts ").append(q(dev.resolve("pts")))
                .append(" 2>/dev/null || rm -f ").append(q(dev.resolve("ptmx"))).append('\n');
        s.append("mount -a -T ").append(q(secondFile)).append(" || fail mounting /dev's devices and the RUN's mounts\n");
        if (!spec.network().shared()) {
            s.append("ip link set lo up 2>/dev/null\n");
        }
        if (proxied) {
            // the JVM writes a line once the egress relay listens in this network namespace
            s.append("read -r x || fail 'the egress relay did not start'\n");
        }
        Path oldRoot = setup.scaffold.dir(OLD_ROOT);
        s.append(": > ").append(q(status)).append('\n');
        s.append("cd ").append(root).append(" || fail entering the rootfs\n");
        // pivot_root makes the rootfs the namespace's root, so a chroot-style climb ends there;
        // the old root, put under the rootfs, is detached by the host's static busybox (the
        // only host binary that still runs once "/" is the rootfs) before the command starts.
        s.append("pivot_root . ").append(q(setup.inside(oldRoot).substring(1))).append(" || fail pivot_root\n");
        StringBuilder last = new StringBuilder();
        last.append("cd ").append(ProcessRunner.quote(spec.workdir())).append(" || exit 125; eval \"$")
                .append(ENV_VARIABLE).append("\"; exec");
        if (kit != null) {
            last.append(" 3<").append(q(SeccompKit.INSIDE + "/" + SeccompKit.FILTER));
        }
        // no_new_privs: no setuid binary or file capability in the image gains anything
        last.append(" setpriv --nnp");
        String dropToUser = null;
        if (privileged && !setup.user.isRoot()) {
            // nsenter -G would clear the supplementary groups set up front
            dropToUser = " nsenter -F" + (groupsSet ? "" : " -G " + setup.user.gid()) + " -S " + setup.user.uid() + " --";
        } else if (!privileged && !setup.user.isRoot()) {
            // the set-up kept the user namespace's capabilities as ambient ones; USER gets none
            // (bwrap, not being setuid, refuses to start as a non-root user with capabilities)
            last.append(" --inh-caps ").append(DROP_ALL).append(" --ambient-caps ").append(DROP_ALL);
        }
        List<String> odd = unusualNames(spec.env());
        if (kit == null) {
            if (dropToUser != null) {
                last.append(dropToUser);
            }
            if (!odd.isEmpty()) {
                last.append(" env");
                for (String e : odd) {
                    last.append(' ').append(ProcessRunner.quote(e));
                }
            }
        } else {
            // the filter goes on last, so the set-up above may mount and unshare; bwrap runs as the
            // namespace's root where it can (as another user it would need a user namespace of its
            // own, which maps no other owner), and the kit's busybox drops to USER under the filter
            for (String a : kit.bwrapCommand()) {
                last.append(' ').append(ProcessRunner.quote(a));
            }
            String kitBusybox = ProcessRunner.quote(SeccompKit.busyboxInside());
            if (dropToUser != null) {
                last.append(' ').append(kitBusybox).append(dropToUser);
            }
            // bwrap sets PWD; the RUN's environment is exactly the image's
            last.append(' ').append(kitBusybox).append(" env -u PWD");
            for (String e : spec.env()) {
                if (e.startsWith("PWD=") || odd.contains(e)) {
                    last.append(' ').append(ProcessRunner.quote(e));
                }
            }
        }
        for (String a : spec.argv()) {
            last.append(' ').append(ProcessRunner.quote(a));
        }
        StringBuilder inner = new StringBuilder();
        inner.append("umount -l ").append(OLD_ROOT).append(" || exit 125; ");
        if (identityMapped) {
            // Root's RUN continues in a user namespace of its own (every id mapped to itself by
            // the JVM) with a mount namespace in which every mount above is locked: read-only
            // ones stay read-only, none can be undone, and no device node can be made.
            inner.append("exec unshare -U -m sh -c ").append(ProcessRunner.quote(
                    // the JVM closes stdin once both maps are written: a wait without spinning
                    "read -r x; exec </dev/null; read a b c < /proc/self/uid_map && [ \"$c\" = 4294967295 ] || exit 125; "
                            + last));
        } else {
            inner.append(last);
        }
        s.append("exec ").append(q(OLD_ROOT + busybox)).append(" sh -c ").append(ProcessRunner.quote(inner.toString()))
                .append('\n');
        return s.toString();
    }

    private static final String OLD_ROOT = "/.kiln-oldroot";

    /** What of a RUN's /proc is read-only and what is masked, as in Docker. */
    static final List<String> PROC_READ_ONLY = List.of("sys", "sysrq-trigger", "irq", "bus", "fs");
    static final List<String> PROC_MASKED = List.of("kcore", "keys", "timer_list", "sched_debug", "latency_stats");

    /** The size of the RUN's {@code /dev/shm}. */
    static final long SHM_BYTES = 64L << 20;

    /**
     * {@code userxattr} puts overlayfs's own markers (opaque directories, copy-up origins) in
     * {@code user.overlay.*}, the namespace a user namespace may use and Java can read and remove,
     * as root too. It also rules out directory redirects, so renaming a directory from the rootfs
     * copies it; metacopy and the inode index stay off, so a copy-up is a whole file.
     */
    static String overlayOptions(Path rootfs, RunSpec.Overlay overlay) throws SandboxException {
        for (Path p : List.of(rootfs, overlay.upper(), overlay.work())) {
            if (!overlayPathOk(p)) {
                throw new SandboxException("overlayfs cannot take the path " + p + " (it contains , : or \\)");
            }
        }
        return "lowerdir=" + rootfs + ",upperdir=" + overlay.upper() + ",workdir=" + overlay.work()
                + ",userxattr,metacopy=off,index=off";
    }

    private static boolean overlayPathOk(Path p) {
        String s = p.toString();
        return s.indexOf(',') < 0 && s.indexOf(':') < 0 && s.indexOf('\\') < 0 && s.indexOf('\n') < 0;
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
        if (!overlayPathOk(rootfs) || !overlayPathOk(scratch) || ProcessRunner.hostTool("unshare") == null) {
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
                    "mount -t overlay overlay -o " + q(overlayOptions(lower, overlay)) + " " + q(lower)
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

    /** Every capability up to 40, in names busybox 1.35's setpriv knows. */
    private static final String DROP_ALL = "-chown,-dac_override,-dac_read_search,-fowner,-fsetid,-kill,-setgid,"
            + "-setuid,-setpcap,-linux_immutable,-net_bind_service,-net_broadcast,-net_admin,-net_raw,-ipc_lock,"
            + "-ipc_owner,-sys_module,-sys_rawio,-sys_chroot,-sys_ptrace,-sys_pacct,-sys_admin,-sys_boot,-sys_nice,"
            + "-sys_resource,-sys_time,-sys_tty_config,-mknod,-lease,-audit_write,-audit_control,-setfcap,"
            + "-mac_override,-mac_admin,-syslog,-wake_alarm,-block_suspend,-audit_read,-cap_38,-cap_39,-cap_40";

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
