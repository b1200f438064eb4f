package dev.kiln.builder.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The shell script the namespace sandbox runs inside its new namespaces (see {@link
 * NamespaceSandbox}): what gets mounted where, how the old root goes, and how the command starts
 * with exactly its environment.
 */
final class SetupScript {
    private SetupScript() {
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
     * The set-up script for one RUN: mounts, {@code /dev}, hostname, loopback, pivot_root, then
     * the last shell that drops to USER (under the filter with {@code kit}) and execs the command.
     * With {@code proxied} it waits, before the command, for a line on stdin: the egress relay listens.
     */
    static String of(RunSetup setup, Path status, String busybox, boolean privileged, boolean identityMapped,
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

    static boolean overlayPathOk(Path p) {
        String s = p.toString();
        return s.indexOf(',') < 0 && s.indexOf(':') < 0 && s.indexOf('\\') < 0 && s.indexOf('\n') < 0;
    }

    /** Every capability up to 40, in names busybox 1.35's setpriv knows. */
    private static final String DROP_ALL = "-chown,-dac_override,-dac_read_search,-fowner,-fsetid,-kill,-setgid,"
            + "-setuid,-setpcap,-linux_immutable,-net_bind_service,-net_broadcast,-net_admin,-net_raw,-ipc_lock,"
            + "-ipc_owner,-sys_module,-sys_rawio,-sys_chroot,-sys_ptrace,-sys_pacct,-sys_admin,-sys_boot,-sys_nice,"
            + "-sys_resource,-sys_time,-sys_tty_config,-mknod,-lease,-audit_write,-audit_control,-setfcap,"
            + "-mac_override,-mac_admin,-syslog,-wake_alarm,-block_suspend,-audit_read,-cap_38,-cap_39,-cap_40";

    private static String q(Path p) {
        return ProcessRunner.quote(p.toString());
    }

    private static String q(String s) {
        return ProcessRunner.quote(s);
    }
}
