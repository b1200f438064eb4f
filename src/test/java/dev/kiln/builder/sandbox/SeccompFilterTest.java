package dev.kiln.builder.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kiln.builder.sandbox.SeccompFilter.Arch;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Runs the generated program through a classic-BPF interpreter as the kernel would, over the
 * {@code seccomp_data} of chosen system calls (the kernel's own verdicts are HostileRunTest's).
 */
class SeccompFilterTest {

    private static final int ALLOW = SeccompFilter.RET_ALLOW;
    private static final int EPERM = SeccompFilter.RET_ERRNO | SeccompFilter.EPERM;
    private static final int ENOSYS = SeccompFilter.RET_ERRNO | SeccompFilter.ENOSYS;
    private static final int KILL = SeccompFilter.RET_KILL_PROCESS;

    @ParameterizedTest
    @EnumSource(Arch.class)
    void aForeignArchitectureIsKilled(Arch arch) {
        byte[] program = SeccompFilter.program(arch);
        Arch other = arch == Arch.X86_64 ? Arch.AARCH64 : Arch.X86_64;
        assertEquals(KILL, run(program, other.audit, 0, 0));
        assertEquals(KILL, run(program, 0x40000003, 0, 0), "i386");
        assertEquals(KILL, run(program, 0x40000028, 0, 0), "arm32");
        assertEquals(ALLOW, run(program, arch.audit, 0, 0));
    }

    @org.junit.jupiter.api.Test
    void x32CallsOnX8664AreKilledTheirNumbersWouldSlipPastTheList() {
        byte[] program = SeccompFilter.program(Arch.X86_64);
        int x32Mount = SeccompFilter.X32_SYSCALL_BIT | 165;
        assertEquals(KILL, run(program, Arch.X86_64.audit, x32Mount, 0));
    }

    @ParameterizedTest
    @EnumSource(Arch.class)
    void theDeniedCallsFailWithEpermOthersPass(Arch arch) {
        byte[] program = SeccompFilter.program(arch);
        for (String name : List.of("mount", "umount2", "pivot_root", "unshare", "setns", "keyctl", "add_key",
                "request_key", "ptrace", "kexec_load", "init_module", "finit_module", "delete_module", "bpf",
                "perf_event_open", "userfaultfd", "open_by_handle_at", "reboot", "swapon", "syslog", "acct",
                "settimeofday", "clock_settime", "quotactl", "fsopen", "move_mount", "open_tree", "process_vm_readv")) {
            assertEquals(EPERM, run(program, arch.audit, SeccompFilter.number(name, arch), 0), name);
        }
        // read, write, openat, execve, chroot, setuid on both tables
        int[] allowed = arch == Arch.X86_64 ? new int[] {0, 1, 257, 59, 161, 105} : new int[] {63, 64, 56, 221, 51, 146};
        for (int nr : allowed) {
            assertEquals(ALLOW, run(program, arch.audit, nr, 0), "system call " + nr);
        }
        assertEquals(arch == Arch.X86_64, SeccompFilter.denied(arch).containsKey("iopl"));
    }

    @ParameterizedTest
    @EnumSource(Arch.class)
    void cloneIntoNewNamespacesIsDeniedAPlainForkOrThreadIsNot(Arch arch) {
        byte[] program = SeccompFilter.program(arch);
        int clone = SeccompFilter.number("clone", arch);
        int sigchld = 17;
        int thread = 0x00010000 | 0x00000100 | 0x00000200 | 0x00000400 | 0x00000800; // THREAD|VM|FS|FILES|SIGHAND
        assertEquals(ALLOW, run(program, arch.audit, clone, sigchld));
        assertEquals(ALLOW, run(program, arch.audit, clone, thread));
        for (int ns : new int[] {0x10000000, 0x20000, 0x20000000, 0x40000000, 0x04000000, 0x08000000, 0x02000000}) {
            assertEquals(EPERM, run(program, arch.audit, clone, sigchld | ns), "clone flag " + Integer.toHexString(ns));
        }
        assertEquals(ENOSYS, run(program, arch.audit, SeccompFilter.number("clone3", arch), 0));
    }

    @ParameterizedTest
    @EnumSource(Arch.class)
    void personalityOnlyWithDockersHarmlessValues(Arch arch) {
        byte[] program = SeccompFilter.program(arch);
        int personality = SeccompFilter.number("personality", arch);
        for (int ok : SeccompFilter.PERSONALITY_ALLOWED) {
            assertEquals(ALLOW, run(program, arch.audit, personality, ok));
        }
        assertEquals(EPERM, run(program, arch.audit, personality, 0x0400000), "READ_IMPLIES_EXEC");
        assertEquals(EPERM, run(program, arch.audit, personality, 0x0040000), "ADDR_NO_RANDOMIZE");
    }

    @ParameterizedTest
    @EnumSource(Arch.class)
    void theProgramIsWellFormed(Arch arch) {
        byte[] program = SeccompFilter.program(arch);
        assertEquals(0, program.length % 8);
        int n = program.length / 8;
        assertTrue(n > 40 && n <= 4096, n + " instructions");
        ByteBuffer b = ByteBuffer.wrap(program).order(ByteOrder.nativeOrder());
        assertEquals(0x06, b.getShort((n - 1) * 8), "ends with a return");
        for (int pc = 0; pc < n; pc++) {
            short code = b.getShort(pc * 8);
            if ((code & 0x07) == 0x05) {
                int jt = Byte.toUnsignedInt(b.get(pc * 8 + 2));
                int jf = Byte.toUnsignedInt(b.get(pc * 8 + 3));
                assertTrue(pc + 1 + Math.max(jt, jf) < n, "jump at " + pc + " stays inside");
            }
        }
    }

    /** A classic BPF interpreter for the instructions a seccomp filter uses. */
    static int run(byte[] program, int arch, int nr, long arg0) {
        ByteBuffer data = ByteBuffer.allocate(64).order(ByteOrder.nativeOrder());
        data.putInt(0, nr).putInt(4, arch).putLong(16, arg0);
        ByteBuffer p = ByteBuffer.wrap(program).order(ByteOrder.nativeOrder());
        int acc = 0;
        int pc = 0;
        for (int steps = 0; steps < 10_000; steps++) {
            short code = p.getShort(pc * 8);
            int jt = Byte.toUnsignedInt(p.get(pc * 8 + 2));
            int jf = Byte.toUnsignedInt(p.get(pc * 8 + 3));
            int k = p.getInt(pc * 8 + 4);
            switch (code) {
                case 0x20 -> { acc = data.getInt(k); pc++; }
                case 0x15 -> pc += 1 + (acc == k ? jt : jf);
                case 0x35 -> pc += 1 + (Integer.compareUnsigned(acc, k) >= 0 ? jt : jf);
                case 0x45 -> pc += 1 + ((acc & k) != 0 ? jt : jf);
                case 0x06 -> { return k; }
                default -> fail("unexpected instruction " + Integer.toHexString(code) + " at " + pc);
            }
        }
        return fail("no return");
    }
}
