package dev.kiln.builder.sandbox;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a hostile RUN tries against the host: the hostile-input suite's sandbox half (issue 12).
 * Each case names the mitigation in docs/security.md it keeps from coming back.
 */
class HostileRunTest {
    @TempDir
    Path tmp;
    Path rootfs;

    @BeforeEach
    void setUp() throws IOException {
        rootfs = TestRootfs.create(tmp);
    }

    private static void assumeNamespaces() {
        Assumptions.assumeTrue(ProcessRunner.currentUid() == 0 && Sandboxes.namespacesWork(),
                "needs root and working namespaces");
    }

    private TestRootfs.Capture run(Sandbox sandbox, int exit, RunSpec.Builder b) throws Exception {
        TestRootfs.Capture c = new TestRootfs.Capture();
        ExecResult r = sandbox.run(b.stdout(c.out).stderr(c.err).build());
        assertEquals(exit, r.exitCode(), () -> "stdout: " + c.out() + "\nstderr: " + c.err());
        return c;
    }

    private RunSpec.Builder sh(String script) {
        return RunSpec.builder(rootfs, List.of("/bin/sh", "-c", script)).env(List.of("PATH=/bin"));
    }

    @Test
    void withoutStaticBusyboxTheRunIsRefusedNotRunAsRoot() throws Exception {
        assumeNamespaces();
        // a tools dir with everything the sandbox runs except busybox
        Path tools = Files.createDirectories(tmp.resolve("tools"));
        for (String tool : List.of("unshare", "sh", "mount", "setpriv", "hostname", "env", "ip")) {
            String host = ProcessRunner.hostTool(tool);
            if (host != null) {
                Files.createSymbolicLink(tools.resolve(tool), Path.of(host));
            }
        }
        Path leak = rootfs.resolve("leak");
        SandboxException e = assertThrows(SandboxException.class, () -> new NamespaceSandbox(true, tools.toString(), true)
                .run(sh("cat /proc/self/status > /leak").build()));
        assertTrue(e.getMessage().startsWith(NamespaceSandbox.MISSING_BUSYBOX), e.getMessage());
        assertTrue(e.getMessage().contains("--sandbox"), "names the option: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertFalse(Files.exists(leak), "the command must not have run");
    }

    @Test
    void seccompDeniesNamespacesMountsAndKeyringsWithEperm() throws Exception {
        assumeNamespaces();
        // busybox's unshare, mount, umount and (through syscall numbers) nothing else: what a RUN can try
        String probe = "grep Seccomp: /proc/self/status; unshare -U true 2>&1; echo unshare=$?; "
                + "mount -t tmpfs tmpfs /tmp 2>&1; echo mount=$?; umount /proc 2>&1; echo umount=$?; "
                + "ls /proc/self/fd | wc -l";
        for (Sandbox sandbox : List.of(new NamespaceSandbox(true, null, true), new NamespaceSandbox(false, null, true))) {
            for (String user : List.of("0", "app")) {
                String out = run(sandbox, 0, sh(probe).user(user)).out();
                String where = sandbox + " as " + user + ": " + out;
                assertTrue(out.startsWith("Seccomp:\t2\n"), "filter mode: " + where);
                assertTrue(out.contains("unshare=1"), where);
                assertTrue(out.contains("mount=1") || out.contains("mount=255"), where);
                assertTrue(out.contains("umount=1") || out.contains("umount=255"), where);
                assertTrue(out.contains("Operation not permitted"), "EPERM, not a kill: " + where);
                // 0, 1, 2 and ls's own directory: bwrap closed the filter's descriptor
                assertTrue(out.endsWith("\n4\n"), "no descriptor leaks into the RUN: " + where);
            }
        }
    }

    @Test
    void ordinaryRunsWorkUnderTheFilter() throws Exception {
        assumeNamespaces();
        List<Sandbox> sandboxes = List.of(new NamespaceSandbox(true, null, true), new NamespaceSandbox(false, null, true));
        for (int i = 0; i < sandboxes.size(); i++) {
            // a working directory each: the user namespace variant maps no host uid but the JVM's
            String home = "/home/app" + i;
            String out = run(sandboxes.get(i), 0, sh("mkdir -p x/y && echo data > x/y/f && cat x/y/f "
                    + "&& rm -r x && id -u && (sleep 0 &) && pwd").user("app").workdir(home)).out();
            assertEquals("data\n1000\n" + home + "\n", out, "sandbox " + i);
            assertEquals("0\n", run(sandboxes.get(i), 0, sh("id -u")).out());
            assertFalse(Files.exists(rootfs.resolve(home.substring(1) + "/x")));
        }
    }

    @Test
    void withoutBwrapTheRunIsRefusedInOneLineUnlessSeccompIsTurnedOff() throws Exception {
        assumeNamespaces();
        // a tools dir with the static busybox and nothing else: no bwrap
        Path tools = Files.createDirectories(tmp.resolve("tools-without-bwrap"));
        Files.createSymbolicLink(tools.resolve("busybox"), TestRootfs.BUSYBOX);
        Path leak = rootfs.resolve("leak");
        SandboxException e = assertThrows(SandboxException.class, () -> new NamespaceSandbox(true, tools.toString(), true)
                .run(sh("echo ran > /leak").build()));
        assertTrue(e.getMessage().startsWith(SeccompKit.MISSING), e.getMessage());
        assertTrue(e.getMessage().contains("bubblewrap") && e.getMessage().contains("--seccomp=false"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertFalse(Files.exists(leak), "the command must not have run");
        String off = run(new NamespaceSandbox(true, tools.toString(), false), 0, sh("grep Seccomp: /proc/self/status")).out();
        assertEquals("Seccomp:\t0\n", off, "the operator turned it off");
    }

    @Test
    void autoNeverChoosesProot() throws Exception {
        assumeNamespaces();
        // the choice is the namespace sandbox or a refusal; proot only when named
        Sandbox chosen = Sandboxes.choose(Sandboxes.Mode.AUTO);
        assertEquals("namespaces", chosen.name());
    }

    @Test
    void networkIsLoopbackOnlyUnlessShared() throws Exception {
        assumeNamespaces();
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            AtomicInteger accepted = new AtomicInteger();
            CompletableFuture<Void> acceptor = CompletableFuture.runAsync(() -> {
                while (!server.isClosed()) {
                    try (Socket s = server.accept()) {
                        accepted.incrementAndGet();
                        s.getOutputStream().write("hello\n".getBytes(StandardCharsets.UTF_8));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            String probe = "busybox nc -w 3 127.0.0.1 " + server.getLocalPort() + " </dev/null || echo unreachable";
            for (Sandbox sandbox : List.of(new NamespaceSandbox(true), new NamespaceSandbox(false))) {
                assertEquals("unreachable\n", run(sandbox, 0, sh(probe)).out(), "default network: " + sandbox);
                assertEquals("unreachable\n", run(sandbox, 0, sh(probe).network(RunSpec.Network.NONE)).out());
                String interfaces = run(sandbox, 0, sh("cat /proc/net/dev")).out();
                assertFalse(interfaces.matches("(?s).*\\n\\s*(eth|en|wl)\\w*:.*"), interfaces);
            }
            assertEquals(0, accepted.get(), "nothing reached the loopback-only service");
            // the control: with the host's network the same probe gets through
            assertEquals("hello\n", run(new NamespaceSandbox(true), 0, sh(probe).network(RunSpec.Network.HOST)).out());
            assertEquals(1, accepted.get());
            server.close();
            acceptor.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void runHasNoNewPrivsAndOnlyTheStandardDevices() throws Exception {
        assumeNamespaces();
        for (Sandbox sandbox : List.of(new NamespaceSandbox(true), new NamespaceSandbox(false))) {
            assertEquals("NoNewPrivs:\t1\n", run(sandbox, 0, sh("grep NoNewPrivs /proc/self/status")).out());
            assertEquals("NoNewPrivs:\t1\n", run(sandbox, 0, sh("grep NoNewPrivs /proc/self/status").user("app")).out());
            String devices = run(sandbox, 0, sh("for f in /dev/* /dev/*/*; do [ ! -L $f ] && [ -b $f -o -c $f ] && echo ${f#/dev/}; done")).out();
            List<String> seen = new ArrayList<>(List.of(devices.strip().split("\n")));
            seen.removeIf(d -> d.startsWith("pts/")); // the private devpts instance's own ptmx
            assertEquals(List.of("full", "null", "random", "tty", "urandom", "zero"), seen.stream().sorted().toList());
            String shm = run(sandbox, 0, sh("busybox df -k /dev/shm | busybox tail -1")).out().trim().split("\\s+")[1];
            assertEquals(Long.toString(SetupScript.SHM_BYTES / 1024), shm, "/dev/shm is capped");
        }
    }

    @Test
    void secretEnvironmentNeverOnAnyCommandLine() throws Exception {
        assumeNamespaces();
        String secret = "kiln-secret-" + System.nanoTime();
        for (Sandbox sandbox : List.of(new NamespaceSandbox(true), new NamespaceSandbox(false))) {
            CompletableFuture<TestRootfs.Capture> running = CompletableFuture.supplyAsync(() -> {
                try {
                    return run(sandbox, 0, sh("echo \"$TOKEN\"; touch /started; sleep 3").env(List.of("PATH=/bin", "TOKEN=" + secret)));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(rootfs.resolve("started")) && System.nanoTime() < deadline && !running.isDone()) {
                Thread.sleep(10);
            }
            List<String> leaks = commandLinesContaining(secret);
            assertEquals(secret + "\n", running.get(60, TimeUnit.SECONDS).out(), "the command still gets the variable");
            assertEquals(List.of(), leaks, "secret on a process's argv");
            Files.deleteIfExists(rootfs.resolve("started"));
        }
    }

    @Test
    void secretEnvironmentInPlaceNeverOnTheCommandLine() throws Exception {
        String secret = "kiln-secret-" + System.nanoTime();
        Path started = tmp.resolve("started");
        CompletableFuture<ExecResult> running = CompletableFuture.supplyAsync(() -> {
            try {
                return new InPlaceSandbox(true).run(RunSpec.builder(Path.of("/"), List.of("sh", "-c",
                        "echo \"$TOKEN\" > " + started + " && sleep 3"))
                        .env(List.of("PATH=/usr/bin:/bin", "TOKEN=" + secret)).workdir(tmp.toString()).build());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(started) && System.nanoTime() < deadline && !running.isDone()) {
            Thread.sleep(10);
        }
        List<String> leaks = commandLinesContaining(secret);
        assertEquals(0, running.get(60, TimeUnit.SECONDS).exitCode());
        assertEquals(secret + "\n", Files.readString(started), "the command got the variable");
        assertEquals(List.of(), leaks);
    }

    @Test
    void prootSeesNeitherTheHostsProcNorItsDevices() throws Exception {
        Assumptions.assumeTrue(Sandboxes.prootWorks(), "proot is not installed or cannot ptrace here");
        long me = ProcessHandle.current().pid();
        ProotSandbox proot = new ProotSandbox();
        String out = run(proot, 0, sh("cat /proc/" + me + "/environ >/dev/null 2>&1 && echo read-environ; "
                + "cat /proc/self/environ >/dev/null 2>&1 && echo read-own; ls /proc | wc -l; ls /dev")
                .network(RunSpec.Network.HOST)).out();
        List<String> lines = List.of(out.strip().split("\n"));
        assertFalse(lines.contains("read-environ"), out);
        assertEquals("0", lines.get(0).trim(), "an empty /proc: " + out);
        assertEquals(List.of("full", "null", "random", "tty", "urandom", "zero"), lines.subList(1, lines.size()));
        SandboxException e = assertThrows(SandboxException.class, () -> proot.run(sh("true").build()));
        assertTrue(e.getMessage().contains("network"), e.getMessage());
    }

    @Test
    void scratchDirsOfDeadProcessesAreRemovedLiveOnesKept() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        Path dead = Files.createDirectories(tmp.resolve(RunSetup.SCRATCH_PREFIX + gone.pid() + "-abc/bind-0"));
        Files.writeString(dead.resolve("secret"), "left by a crash");
        Path live = Files.createDirectories(tmp.resolve(RunSetup.SCRATCH_PREFIX + ProcessHandle.current().pid() + "-def"));
        Path unrelated = Files.createDirectories(tmp.resolve("kiln-runner-1-x"));
        assertEquals(1, RunSetup.cleanLeftovers(tmp));
        assertFalse(Files.exists(dead.getParent()));
        assertTrue(Files.isDirectory(live));
        assertTrue(Files.isDirectory(unrelated));
    }

    /** Every process whose command line holds {@code needle}, as {@code pid: cmdline}. */
    static List<String> commandLinesContaining(String needle) throws IOException {
        List<String> found = new ArrayList<>();
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.toList()) {
                if (!p.getFileName().toString().matches("\\d+")) {
                    continue;
                }
                try {
                    String cmdline = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8);
                    if (cmdline.contains(needle)) {
                        found.add(p.getFileName() + ": " + cmdline.replace('\0', ' '));
                    }
                } catch (IOException e) {
                    // gone
                }
            }
        }
        return found;
    }
}
