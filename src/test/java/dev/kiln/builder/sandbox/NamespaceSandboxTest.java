package dev.kiln.builder.sandbox;

import dev.kiln.builder.dockerfile.Command;
import dev.kiln.builder.dockerfile.Instruction;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The namespace sandbox as root (no user namespace); see {@link UserNamespaceSandboxTest} for the other variant. */
class NamespaceSandboxTest {
    @TempDir
    Path tmp;
    Path rootfs;

    Sandbox sandbox() {
        return new NamespaceSandbox(true);
    }

    boolean privileged() {
        return true;
    }

    @BeforeEach
    void setUp() throws IOException {
        Assumptions.assumeTrue(ProcessRunner.currentUid() == 0, "these tests run as root; see UnprivilegedSandboxTest");
        rootfs = TestRootfs.create(tmp);
    }

    TestRootfs.Capture run(int expectedExit, RunSpec.Builder b) throws Exception {
        TestRootfs.Capture c = new TestRootfs.Capture();
        ExecResult r = sandbox().run(b.stdout(c.out).stderr(c.err).build());
        assertEquals(expectedExit, r.exitCode(), () -> "stdout: " + c.out() + "\nstderr: " + c.err());
        return c;
    }

    RunSpec.Builder sh(String script) {
        return RunSpec.builder(rootfs, List.of("/bin/sh", "-c", script)).env(List.of("PATH=/bin"));
    }

    @Test
    void exitCodeAndOutput() throws Exception {
        TestRootfs.Capture c = run(3, sh("echo out; echo err >&2; exit 3"));
        assertEquals("out\n", c.out());
        assertEquals("err\n", c.err());
        List<String> lines = new ArrayList<>();
        ExecResult r = sandbox().run(sh("echo a; echo b").stdout(lines::add).build());
        assertTrue(r.succeeded());
        assertEquals(List.of("a", "b"), lines);
    }

    @Test
    void environmentIsExactlyAsGiven() throws Exception {
        assertEquals("A=1\nB=two words\n", run(0, RunSpec.builder(rootfs, List.of("/bin/env"))
                .env(List.of("A=1", "B=two words"))).out());
        assertEquals("", run(0, RunSpec.builder(rootfs, List.of("/bin/env"))).out(), "no PATH unless given");
    }

    @Test
    void userByNameAndNumbers() throws Exception {
        Assumptions.assumeTrue(privileged(), "one uid per user namespace: covered in UnprivilegedSandboxTest");
        assertEquals("uid=1000(app) gid=1000(app)\n", run(0, sh("id").user("app")).out());
        assertEquals("uid=1000(app) gid=50(staff)\n", run(0, sh("id").user("app:staff")).out());
        assertEquals("uid=1000(app) gid=1000(app)\n", run(0, sh("id").user("1000:1000")).out());
        assertEquals("uid=4242 gid=0(root)\n", run(0, sh("id").user("4242")).out());
        assertEquals("uid=0(root) gid=0(root)\n", run(0, sh("id")).out());
        assertEquals("CapEff:\t0000000000000000\n", run(0, sh("grep CapEff /proc/self/status").user("app")).out());
        SandboxException e = assertThrows(SandboxException.class, () -> sandbox().run(sh("id").user("ghost").build()));
        assertTrue(e.getMessage().contains("ghost"), e.getMessage());
        SandboxException g = assertThrows(SandboxException.class, () -> sandbox().run(sh("id").user("app:nogrp").build()));
        assertTrue(g.getMessage().contains("nogrp"), g.getMessage());
    }

    @Test
    void workdirIsCreatedAndOwnedByTheUser() throws Exception {
        assertEquals("/srv/app\n", run(0, sh("pwd").workdir("/srv/app")).out());
        assertTrue(Files.isDirectory(rootfs.resolve("srv/app")));
        if (privileged()) {
            run(0, sh("touch mine").workdir("/home/app/work").user("app"));
            assertEquals(1000, Files.getAttribute(rootfs.resolve("home/app/work"), "unix:uid"));
            assertEquals(1000, Files.getAttribute(rootfs.resolve("home/app/work/mine"), "unix:uid"));
        }
    }

    @Test
    void shellFormAndExecForm() throws Exception {
        List<String> shell = RunSpec.argv(null, new Command.ShellForm("echo $0 \"$HOME\""));
        assertEquals(List.of("/bin/sh", "-c", "echo $0 \"$HOME\""), shell);
        assertEquals("/bin/sh /h\n", run(0, RunSpec.builder(rootfs, shell).env(List.of("HOME=/h"))).out());
        List<String> custom = RunSpec.argv(new Instruction.Shell(List.of("/bin/busybox", "sh", "-c")),
                new Command.ShellForm("echo custom"));
        assertEquals(List.of("/bin/busybox", "sh", "-c", "echo custom"), custom);
        assertEquals("custom\n", run(0, RunSpec.builder(rootfs, custom)).out());
        List<String> exec = RunSpec.argv(null, new Command.ExecForm(List.of("echo", "$HOME")));
        assertEquals("$HOME\n", run(0, RunSpec.builder(rootfs, exec).env(List.of("PATH=/bin", "HOME=/h"))).out());
        assertEquals(127, sandbox().run(RunSpec.builder(rootfs, List.of("/bin/nonexistent")).build()).exitCode());
    }

    @Test
    void procShowsOnlyTheSandbox() throws Exception {
        String out = run(0, sh("echo marker-$$; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep '^[0-9]*$' | wc -l")).out();
        String[] lines = out.split("\n");
        assertEquals("marker-1", lines[0], out);
        assertTrue(lines[1].contains("marker-$$"), out);
        assertTrue(Integer.parseInt(lines[2].trim()) <= 4, "a handful of pids, not the host's: " + out);
    }

    @Test
    void hostnameIsIsolated() throws Exception {
        String before = InetAddress.getLocalHost().getHostName();
        assertEquals("builder\n", run(0, sh("hostname builder2 2>/dev/null; hostname").hostname("builder")).out()
                .replace("builder2", "builder"));
        assertEquals(before, InetAddress.getLocalHost().getHostName());
        assertNotEquals("builder2", Files.readString(Path.of("/proc/sys/kernel/hostname")).strip());
    }

    @Test
    void leftoverBackgroundProcessDies() throws Exception {
        String tag = "1" + (System.nanoTime() % 100000 + 100000);
        run(0, sh("sleep " + tag + " & echo started"));
        assertNoProcess("sleep " + tag);
    }

    @Test
    void timeoutKillsEverything() throws Exception {
        String tag = "2" + (System.nanoTime() % 100000 + 100000);
        ExecResult r = sandbox().run(sh("sleep " + tag + " & sleep " + tag + "; echo never")
                .timeout(Duration.ofMillis(1500)).build());
        assertTrue(r.timedOut());
        assertTrue(r.duration().toSeconds() < 20, r.toString());
        assertNotEquals(0, r.exitCode());
        assertNoProcess("sleep " + tag);
    }

    @Test
    void cancellationKillsEverything() throws Exception {
        String tag = "3" + (System.nanoTime() % 100000 + 100000);
        Cancellation cancel = new Cancellation();
        CompletableFuture<ExecResult> f = CompletableFuture.supplyAsync(() -> {
            try {
                return sandbox().run(sh("sleep " + tag + " & sleep " + tag).cancellation(cancel).build());
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        awaitProcess("sleep " + tag);
        cancel.cancel();
        ExecResult r = f.get(20, TimeUnit.SECONDS);
        assertTrue(r.cancelled());
        assertNoProcess("sleep " + tag);
    }

    @Test
    void interruptionKillsEverything() throws Exception {
        String tag = "4" + (System.nanoTime() % 100000 + 100000);
        Throwable[] thrown = new Throwable[1];
        Thread t = new Thread(() -> {
            try {
                sandbox().run(sh("sleep " + tag + " & sleep " + tag).build());
            } catch (Throwable e) {
                thrown[0] = e;
            }
        });
        t.start();
        awaitProcess("sleep " + tag);
        t.interrupt();
        t.join(20_000);
        assertFalse(t.isAlive());
        assertInstanceOf(InterruptedException.class, thrown[0]);
        assertNoProcess("sleep " + tag);
        assertFalse(Files.exists(rootfs.resolve("etc/hosts")));
    }

    @Test
    void resolvConfAndHostsOnlyDuringTheRun() throws Exception {
        String out = run(0, sh("cat /etc/hosts; test -f /etc/resolv.conf && echo resolv").hostname("hb")).out();
        assertTrue(out.contains("localhost") && out.contains("hb") && out.contains("resolv"), out);
        assertFalse(Files.exists(rootfs.resolve("etc/hosts"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(rootfs.resolve("etc/resolv.conf"), LinkOption.NOFOLLOW_LINKS));
        Files.writeString(rootfs.resolve("etc/hosts"), "image's own\n");
        run(0, sh("cat /etc/hosts"));
        assertEquals("image's own\n", Files.readString(rootfs.resolve("etc/hosts")));
        // a dangling absolute symlink in the image must not send the mount to the host
        Files.createSymbolicLink(rootfs.resolve("etc/resolv.conf"), Path.of("/run/resolv-" + UUID.randomUUID()));
        run(0, sh("cat /etc/resolv.conf > /dev/null"));
        assertTrue(Files.isSymbolicLink(rootfs.resolve("etc/resolv.conf")));
        assertFalse(Files.exists(rootfs.resolve("run")), "scaffolding removed");
    }

    @Test
    void cacheMountPersistsAndStaysOutOfTheRootfs() throws Exception {
        Path cache = tmp.resolve("cache/go");
        RunMount m = new RunMount.Cache(cache, "/root/.cache", false);
        run(0, sh("echo 1 > /root/.cache/f").mount(m));
        assertEquals("1\n", run(0, sh("cat /root/.cache/f").mount(m)).out());
        assertFalse(Files.exists(rootfs.resolve("root")), "mount point removed");
        assertEquals("1\n", Files.readString(cache.resolve("f")));
    }

    @Test
    void secretMountReadableButNeverInTheRootfs() throws Exception {
        Path secret = tmp.resolve("secret");
        Files.writeString(secret, "s3cr3t");
        RunMount m = new RunMount.Secret(secret, "/run/secrets/token");
        assertEquals("s3cr3t", run(0, sh("cat /run/secrets/token").mount(m)).out());
        run(1, sh("echo overwrite > /run/secrets/token || exit 1").mount(m));
        assertEquals("s3cr3t", Files.readString(secret));
        assertFalse(Files.exists(rootfs.resolve("run")), "no trace of the secret in the rootfs");
        run(0, sh("test ! -e /run/secrets/token"));
    }

    @Test
    void readOnlyBindCannotBeWritten() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("context"));
        Files.writeString(src.resolve("a"), "ctx");
        run(1, sh("cat /src/a; touch /src/b || exit 1").mount(new RunMount.Bind(src, "/src", true)));
        assertFalse(Files.exists(src.resolve("b")));
        // read-write binds see writes during the run, which are then discarded (as BuildKit does)
        assertEquals("ctx-b\n", run(0, sh("echo -b >> /src/a; cat /src/a | tr -d '\\n'; echo")
                .mount(new RunMount.Bind(src, "/src", false))).out().replace("ctx\n", "ctx"));
        assertEquals("ctx", Files.readString(src.resolve("a")));
        assertFalse(Files.exists(rootfs.resolve("src")));
    }

    @Test
    void tmpfsMount() throws Exception {
        run(0, sh("echo x > /tmp/scratch/f && cat /tmp/scratch/f").mount(new RunMount.Tmpfs("/tmp/scratch", 1L << 20)));
        assertFalse(Files.exists(rootfs.resolve("tmp")));
    }

    @Test
    void networkNone() throws Exception {
        String out = run(0, sh("cat /proc/net/dev").network(RunSpec.Network.NONE)).out();
        assertTrue(out.contains("lo:"), out);
        assertEquals(3, out.split("\n").length, "only the loopback device: " + out);
    }

    @Test
    void hostPathsAreUnreachable() throws Exception {
        String canary = "host-canary-" + UUID.randomUUID();
        run(0, sh("echo x > /" + canary));
        assertTrue(Files.exists(rootfs.resolve(canary)), "landed in the rootfs");
        assertFalse(Files.exists(Path.of("/", canary)), "not on the host");

        Path marker = Files.createTempDirectory("kiln-marker").resolve("shadow");
        Files.writeString(marker, "host secret");
        try {
            String m = marker.toString();
            run(1, sh("cat " + m + " || cat /etc/shadow || cat /proc/1/root" + m + " || exit 1"));
            String listing = run(0, sh("ls /proc/1/root/; echo --; cd /../../..; pwd; ls; echo --; ls /proc/1/cwd/")).out();
            String[] parts = listing.split("--\n");
            assertEquals(parts[0], parts[1].substring(parts[1].indexOf('\n') + 1), "/proc/1/root is the rootfs: " + listing);
            assertTrue(parts[1].startsWith("/\n"), listing);
            assertTrue(parts[0].contains("bin") && !parts[0].contains("usr"), listing);
            run(1, sh("cat /proc/1/root/../../../.." + m + " || exit 1"));
        } finally {
            Files.delete(marker);
            Files.delete(marker.getParent());
        }
    }

    @Test
    void rootRunHasNoHostPrivileges() throws Exception {
        assertEquals("no-mknod\n", run(0, sh("busybox mknod /sdz b 8 0 2>/dev/null && echo mknod || echo no-mknod")).out());
        assertFalse(Files.exists(rootfs.resolve("sdz")));
        String sysctl = "cat /proc/sys/kernel/core_pattern > /cp; { cat /cp > /proc/sys/kernel/core_pattern; } 2>/dev/null"
                + " && echo wrote || echo read-only";
        assertEquals("read-only\n", run(0, sh(sysctl)).out());
        assertEquals("no-mount\n", run(0, sh("mkdir /m; mount -t tmpfs none /m 2>/dev/null; "
                + "mount --bind /proc/1/root/.. /m 2>/dev/null; ls /m | grep -q usr && echo mounted-host || echo no-mount")).out());
        if (privileged()) {
            run(0, sh("touch /owned && busybox chown 1234:5678 /owned"));
            assertEquals(1234, Files.getAttribute(rootfs.resolve("owned"), "unix:uid"), "uids map to themselves");
            assertEquals(5678, Files.getAttribute(rootfs.resolve("owned"), "unix:gid"));
        }
    }

    static void assertNoProcess(String commandLine) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        List<String> found;
        do {
            found = ProcessHandle.allProcesses()
                    .filter(p -> p.info().commandLine().orElse("").contains(commandLine))
                    .map(p -> p.pid() + " " + p.info().commandLine().orElse(""))
                    .toList();
            if (found.isEmpty()) {
                return;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("still running: " + found);
    }

    static void awaitProcess(String commandLine) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (ProcessHandle.allProcesses().anyMatch(p -> p.info().commandLine().orElse("").contains(commandLine))) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("never started: " + commandLine);
    }
}
