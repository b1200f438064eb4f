package dev.kiln.build.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Namespaces + chroot with util-linux: {@code unshare} gives the RUN its own mount, pid, uts and
 * ipc namespaces (and network namespace for {@code --network=none}); as a non-root caller also a
 * user namespace in which the caller is root (or, for a non-root USER, that user, with the
 * namespace's capabilities kept for the set-up).
 *
 * <p>Inside, a set-up script (the host's {@code /bin/sh}, running in the new namespaces before the
 * chroot) mounts a fresh {@code /proc}, a minimal {@code /dev} (tmpfs with null, zero, full,
 * random, urandom, tty bound from the host, a private devpts, shm), the generated
 * {@code resolv.conf} and {@code hosts}, and the RUN's mounts, all at paths resolved inside the
 * rootfs; then {@code env -i} + {@code unshare --root --wd [--setuid --setgid]} chroots, changes
 * directory, drops to the user and execs the command, which becomes pid 1 of its namespace. When it
 * exits, the kernel kills whatever it left behind and the mount namespace (with every mount) goes
 * away; mount points made for the run are then removed from the rootfs.
 *
 * <p>Limits: a USER with real root keeps root's capabilities (as in kaniko), so it could break out
 * of a chroot with {@code CAP_SYS_CHROOT} or mount things; unprivileged callers have only the one
 * uid of their user namespace, so files the RUN creates belong to the caller on the host.
 */
public final class NamespaceSandbox implements Sandbox {
    private final boolean privileged;

    public NamespaceSandbox() {
        this(ProcessRunner.currentUid() == 0);
    }

    /** {@code privileged} false forces the user-namespace variant even as root (for tests). */
    public NamespaceSandbox(boolean privileged) {
        this.privileged = privileged;
    }

    @Override
    public String name() {
        return "namespaces";
    }

    @Override
    public ExecResult run(RunSpec spec) throws IOException, InterruptedException {
        String unshare = require("unshare");
        try (RunSetup setup = RunSetup.prepare(spec, privileged, true)) {
            Path status = setup.scratch.resolve("started");
            String script = script(setup, status, unshare);
            List<String> command = new ArrayList<>();
            String setpriv = ProcessRunner.hostTool("setpriv");
            if (setpriv != null) {
                command.addAll(List.of(setpriv, "--pdeathsig", "KILL"));
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
            if (spec.network() == RunSpec.Network.NONE) {
                command.add("--net");
            }
            command.addAll(List.of("/bin/sh", "-c", script));
            ProcessRunner.Tail err = new ProcessRunner.Tail(spec.stderr());
            ProcessRunner.Outcome outcome = ProcessRunner.run(command, Map.of("PATH", ProcessRunner.HOST_PATH),
                    null, spec.stdout(), err, spec.timeout(), spec.cancellation());
            if (!Files.exists(status) && !outcome.timedOut() && !outcome.cancelled()) {
                throw new SandboxException("namespace sandbox set-up failed (exit " + outcome.exitCode() + "): "
                        + err.text());
            }
            return outcome.result();
        }
    }

    private String script(RunSetup setup, Path status, String unshare) throws IOException {
        RunSpec spec = setup.spec;
        StringBuilder s = new StringBuilder();
        s.append("fail() { echo \"kiln-sandbox: $*\" >&2; exit 125; }\n");
        String root = q(setup.scaffold.root().root());
        // the rootfs becomes a mount of its own, so it can be made the namespace's root below
        s.append("mount --bind ").append(root).append(' ').append(root).append(" || fail binding the rootfs\n");
        Path proc = setup.scaffold.dir("/proc");
        Path dev = setup.scaffold.dir("/dev");
        s.append("mount -t proc -o nosuid,nodev,noexec proc ").append(q(proc)).append(" || fail mounting /proc\n");
        s.append("mount -t tmpfs -o mode=755,nosuid,size=65536k tmpfs ").append(q(dev)).append(" || fail mounting /dev\n");
        s.append("cd ").append(q(dev)).append(" || fail /dev\n");
        for (String d : List.of("null", "zero", "full", "random", "urandom", "tty")) {
            s.append(": > ").append(d).append(" && mount --bind /dev/").append(d).append(' ').append(d)
                    .append(" || rm -f ").append(d).append('\n');
        }
        s.append("mkdir pts shm\n");
        s.append("mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts pts 2>/dev/null && ln -s pts/ptmx ptmx\n");
        s.append("mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs shm\n");
        s.append("ln -s /proc/self/fd fd; ln -s /proc/self/fd/0 stdin; ln -s /proc/self/fd/1 stdout; ln -s /proc/self/fd/2 stderr\n");
        s.append("cd / || exit 125\n");
        String hostname = ProcessRunner.hostTool("hostname");
        if (hostname != null) {
            s.append(q(hostname)).append(' ').append(q(spec.hostname())).append(" || fail setting the hostname\n");
        } else {
            s.append("echo ").append(q(spec.hostname())).append(" > /proc/sys/kernel/hostname || fail setting the hostname\n");
        }
        if (spec.network() == RunSpec.Network.NONE) {
            String ip = ProcessRunner.hostTool("ip");
            if (ip != null) {
                s.append(q(ip)).append(" link set lo up 2>/dev/null\n");
            }
        }
        for (RunSetup.Planned m : setup.mounts) {
            String target = q(m.target());
            String where = q(setup.inside(m.target()));
            if (m.kind() == RunSetup.Kind.TMPFS) {
                s.append("mount -t tmpfs -o mode=1777").append(m.sizeBytes() == null ? "" : ",size=" + m.sizeBytes())
                        .append(" tmpfs ").append(target).append(" || fail mounting a tmpfs at ").append(where).append('\n');
                continue;
            }
            s.append("mount --rbind ").append(q(m.source())).append(' ').append(target)
                    .append(" || fail mounting ").append(where).append('\n');
            if (m.readOnly()) {
                s.append("mount -o remount,bind,ro ").append(target)
                        .append(" || fail making ").append(where).append(" read-only\n");
            }
        }
        String busybox = privileged ? null : staticBusybox();
        Path oldRoot = busybox == null ? null : setup.scaffold.dir(OLD_ROOT);
        s.append(": > ").append(q(status)).append('\n');
        s.append("cd ").append(root).append(" || fail entering the rootfs\n");
        StringBuilder exec = new StringBuilder();
        if (privileged) {
            // Move the rootfs mount over the namespace's "/": a chroot escape (chroot into a
            // subdirectory, climb "..") then ends at the rootfs, never at the host. This process
            // keeps the old root until unshare --root=. (a host binary, started from here)
            // chroots into the moved mount.
            s.append("mount --move . / || fail moving the rootfs over /\n");
            exec.append(q(require("env"))).append(" -i");
            for (String e : spec.env()) {
                exec.append(' ').append(ProcessRunner.quote(e));
            }
            exec.append(' ').append(q(unshare)).append(" --root=. --wd=").append(ProcessRunner.quote(spec.workdir()));
            if (!setup.user.isRoot()) {
                exec.append(" --setgid ").append(setup.user.gid()).append(" --setuid ").append(setup.user.uid());
            }
            exec.append(" --");
        } else if (busybox != null) {
            // In a user namespace the locked host root cannot be moved over; pivot_root can, with the
            // old root put under the rootfs and detached by the static busybox (the only host
            // binary that still runs once "/" is the rootfs) before it execs the command.
            s.append("pivot_root . ").append(q(setup.inside(oldRoot).substring(1))).append(" || fail pivot_root\n");
            StringBuilder inner = new StringBuilder();
            inner.append("umount -l ").append(OLD_ROOT).append(" || exit 125; cd ")
                    .append(ProcessRunner.quote(spec.workdir())).append(" || exit 125; exec env -i");
            for (String e : spec.env()) {
                inner.append(' ').append(ProcessRunner.quote(e));
            }
            for (String a : spec.argv()) {
                inner.append(' ').append(ProcessRunner.quote(a));
            }
            exec.append(q(OLD_ROOT + busybox)).append(" sh -c ").append(ProcessRunner.quote(inner.toString()));
            s.append("exec ").append(exec).append('\n');
            return s.toString();
        } else {
            // no static busybox: a plain chroot, which a process with CAP_SYS_CHROOT in the user
            // namespace could climb out of (to what the caller's own uid may see)
            exec.append(q(require("env"))).append(" -i");
            for (String e : spec.env()) {
                exec.append(' ').append(ProcessRunner.quote(e));
            }
            exec.append(' ').append(q(unshare)).append(" --root=").append(root)
                    .append(" --wd=").append(ProcessRunner.quote(spec.workdir())).append(" --");
        }
        for (String a : spec.argv()) {
            exec.append(' ').append(ProcessRunner.quote(a));
        }
        s.append("exec ").append(exec).append('\n');
        return s.toString();
    }

    private static final String OLD_ROOT = "/.kiln-oldroot";

    /** A statically linked busybox on the host (no ELF interpreter), or null. */
    static String staticBusybox() {
        for (String candidate : new String[] {"/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"}) {
            Path p = Path.of(candidate);
            if (Files.isExecutable(p) && isStatic(p)) {
                try {
                    return p.toRealPath().toString();
                } catch (IOException e) {
                    // try the next
                }
            }
        }
        return null;
    }

    private static boolean isStatic(Path elf) {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(elf)) {
            java.nio.ByteBuffer header = java.nio.ByteBuffer.allocate(64).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(header, 0);
            if (header.getInt(0) != 0x464c457f || header.get(4) != 2 || header.get(5) != 1) {
                return false; // only 64-bit little-endian ELF is recognised
            }
            long phoff = header.getLong(32);
            int phentsize = Short.toUnsignedInt(header.getShort(54));
            int phnum = Short.toUnsignedInt(header.getShort(56));
            java.nio.ByteBuffer ph = java.nio.ByteBuffer.allocate(phentsize * phnum).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(ph, phoff);
            for (int i = 0; i < phnum; i++) {
                if (ph.getInt(i * phentsize) == 3) { // PT_INTERP
                    return false;
                }
            }
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

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
