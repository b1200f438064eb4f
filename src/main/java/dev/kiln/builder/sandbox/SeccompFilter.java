package dev.kiln.builder.sandbox;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The seccomp filter of every RUN in the namespace sandbox, as the classic BPF program the kernel
 * (and {@code bwrap --seccomp FD}) takes: an array of {@code struct sock_filter} in the host's byte
 * order, run over {@code struct seccomp_data} ({@code nr} at 0, {@code arch} at 4, {@code args[i]}
 * at 16 + 8i).
 *
 * <p>What it denies follows Docker's default profile where that profile needs a capability a
 * build's RUN does not get: module and kexec loading, mounting and every namespace call (the
 * sandbox has set everything up before the filter is loaded), keyrings, tracing other processes,
 * bpf, perf, userfaultfd, handle-based opens, clock and swap changes, reboot, io_uring. Denied calls
 * fail with {@code EPERM}, not a kill, so tools that probe for a feature carry on without it;
 * {@code clone3} answers {@code ENOSYS} (its flags are behind a pointer the filter cannot read),
 * so libc falls back to {@code clone}, whose namespace flags the filter does see. A system call of
 * another architecture (i386 or x32 on x86_64, arm32 on aarch64) kills the process: the deny list
 * is by number and would not hold there.
 */
public final class SeccompFilter {

    /** The architectures the filter knows, with their {@code AUDIT_ARCH_*} values. */
    public enum Arch {
        X86_64(0xC000003E), AARCH64(0xC00000B7);

        final int audit;

        Arch(int audit) {
            this.audit = audit;
        }

        /** This JVM's architecture, or null when the filter does not know it. */
        public static Arch host() {
            return switch (System.getProperty("os.arch", "").toLowerCase(Locale.ROOT)) {
                case "amd64", "x86_64" -> X86_64;
                case "aarch64", "arm64" -> AARCH64;
                default -> null;
            };
        }
    }

    static final int RET_KILL_PROCESS = 0x80000000;
    static final int RET_ERRNO = 0x00050000;
    static final int RET_ALLOW = 0x7fff0000;
    static final int EPERM = 1;
    static final int ENOSYS = 38;

    /** {@code CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET}, as Docker's profile masks them. */
    static final int CLONE_NAMESPACES = 0x7E020000;
    /** x32's system calls on x86_64 carry this bit in their number. */
    static final int X32_SYSCALL_BIT = 0x40000000;
    /** The {@code personality} values Docker's profile allows: Linux, 32-bit, UNAME26, both, and the query. */
    static final int[] PERSONALITY_ALLOWED = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

    /** Denied with EPERM: name, x86_64 number, aarch64 number (-1 where the call does not exist). */
    private static final Object[][] DENIED = {
            {"kexec_load", 246, 104}, {"kexec_file_load", 320, 294},
            {"init_module", 175, 105}, {"finit_module", 313, 273}, {"delete_module", 176, 106},
            {"mount", 165, 40}, {"umount2", 166, 39}, {"pivot_root", 155, 41},
            {"open_tree", 428, 428}, {"move_mount", 429, 429}, {"fsopen", 430, 430}, {"fsconfig", 431, 431},
            {"fsmount", 432, 432}, {"fspick", 433, 433}, {"mount_setattr", 442, 442},
            {"unshare", 272, 97}, {"setns", 308, 268},
            {"keyctl", 250, 219}, {"add_key", 248, 217}, {"request_key", 249, 218},
            {"ptrace", 101, 117}, {"process_vm_readv", 310, 270}, {"process_vm_writev", 311, 271},
            {"kcmp", 312, 272}, {"pidfd_getfd", 438, 438},
            {"bpf", 321, 280}, {"perf_event_open", 298, 241}, {"userfaultfd", 323, 282},
            {"open_by_handle_at", 304, 265}, {"lookup_dcookie", 212, 18},
            {"reboot", 169, 142}, {"swapon", 167, 224}, {"swapoff", 168, 225},
            {"syslog", 103, 116}, {"acct", 163, 89},
            {"settimeofday", 164, 170}, {"clock_settime", 227, 112}, {"clock_adjtime", 305, 266},
            {"iopl", 172, -1}, {"ioperm", 173, -1},
            {"quotactl", 179, 60}, {"quotactl_fd", 443, 443},
            {"vhangup", 153, 58},
            {"io_uring_setup", 425, 425}, {"io_uring_enter", 426, 426}, {"io_uring_register", 427, 427},
    };
    private static final Object[] CLONE = {"clone", 56, 220};
    private static final Object[] CLONE3 = {"clone3", 435, 435};
    private static final Object[] PERSONALITY = {"personality", 135, 92};

    private SeccompFilter() {
    }

    /** The system calls denied with EPERM whatever their arguments, by name, with their number on {@code arch}. */
    public static Map<String, Integer> denied(Arch arch) {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (Object[] d : DENIED) {
            int nr = number(d, arch);
            if (nr >= 0) {
                out.put((String) d[0], nr);
            }
        }
        return out;
    }

    /** The number of {@code clone}, {@code clone3} or {@code personality} on {@code arch}. */
    static int number(String name, Arch arch) {
        for (Object[] d : new Object[][] {CLONE, CLONE3, PERSONALITY}) {
            if (d[0].equals(name)) {
                return number(d, arch);
            }
        }
        Integer nr = denied(arch).get(name);
        if (nr == null) {
            throw new IllegalArgumentException("no system call " + name + " in the filter's table");
        }
        return nr;
    }

    private static int number(Object[] entry, Arch arch) {
        return (Integer) entry[arch == Arch.X86_64 ? 1 : 2];
    }

    /** The program for {@code arch}, ready to be read from a file descriptor by {@code bwrap --seccomp}. */
    public static byte[] program(Arch arch) {
        Assembler a = new Assembler();
        a.load(4);
        a.jumpUnless(arch.audit, "kill");
        a.load(0);
        if (arch == Arch.X86_64) {
            a.jumpIfAtLeast(X32_SYSCALL_BIT, "kill");
        }
        for (int nr : denied(arch).values()) {
            a.jumpIf(nr, "eperm");
        }
        a.jumpIf(number(CLONE3, arch), "enosys");
        a.jumpIf(number(CLONE, arch), "clone");
        a.jumpIf(number(PERSONALITY, arch), "personality");
        a.ret(RET_ALLOW);
        // clone(flags, ...) takes its flags first on both architectures; the namespace bits are in the low word
        a.label("clone");
        a.load(16);
        a.jumpIfAnyBit(CLONE_NAMESPACES, "eperm");
        a.ret(RET_ALLOW);
        a.label("personality");
        a.load(16);
        for (int allowed : PERSONALITY_ALLOWED) {
            a.jumpIf(allowed, "allow");
        }
        a.label("eperm");
        a.ret(RET_ERRNO | EPERM);
        a.label("enosys");
        a.ret(RET_ERRNO | ENOSYS);
        a.label("kill");
        a.ret(RET_KILL_PROCESS);
        a.label("allow");
        a.ret(RET_ALLOW);
        return a.assemble();
    }

    /** The program for this machine's architecture. */
    public static byte[] program() throws SandboxException {
        Arch arch = Arch.host();
        if (arch == null) {
            throw new SandboxException("the seccomp filter knows x86_64 and aarch64, not " + System.getProperty("os.arch"));
        }
        return program(arch);
    }

    /** A classic BPF assembler with forward jumps to labels, enough for a seccomp filter. */
    private static final class Assembler {
        private static final short LD_W_ABS = 0x20;
        private static final short JEQ_K = 0x15;
        private static final short JGE_K = 0x35;
        private static final short JSET_K = 0x45;
        private static final short RET_K = 0x06;

        private record Insn(short code, String trueLabel, String falseLabel, int k) {
        }

        private final List<Insn> insns = new ArrayList<>();
        private final Map<String, Integer> labels = new HashMap<>();

        void load(int offset) {
            insns.add(new Insn(LD_W_ABS, null, null, offset));
        }

        void jumpIf(int k, String label) {
            insns.add(new Insn(JEQ_K, label, null, k));
        }

        void jumpUnless(int k, String label) {
            insns.add(new Insn(JEQ_K, null, label, k));
        }

        void jumpIfAtLeast(int k, String label) {
            insns.add(new Insn(JGE_K, label, null, k));
        }

        void jumpIfAnyBit(int k, String label) {
            insns.add(new Insn(JSET_K, label, null, k));
        }

        void ret(int k) {
            insns.add(new Insn(RET_K, null, null, k));
        }

        void label(String name) {
            labels.put(name, insns.size());
        }

        byte[] assemble() {
            ByteBuffer out = ByteBuffer.allocate(insns.size() * 8).order(ByteOrder.nativeOrder());
            for (int i = 0; i < insns.size(); i++) {
                Insn insn = insns.get(i);
                out.putShort(insn.code());
                out.put(offset(i, insn.trueLabel()));
                out.put(offset(i, insn.falseLabel()));
                out.putInt(insn.k());
            }
            return out.array();
        }

        /** A jump is relative to the next instruction and forward only, at most 255 ahead. */
        private byte offset(int from, String label) {
            if (label == null) {
                return 0;
            }
            Integer to = labels.get(label);
            int distance = to == null ? -1 : to - from - 1;
            if (distance < 0 || distance > 255) {
                throw new IllegalStateException("jump from " + from + " to " + label + " out of reach");
            }
            return (byte) distance;
        }
    }
}
