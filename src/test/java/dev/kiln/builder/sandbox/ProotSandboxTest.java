package dev.kiln.builder.sandbox;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProotSandboxTest {
    @TempDir
    Path tmp;
    Path rootfs;

    @BeforeEach
    void setUp() throws Exception {
        Assumptions.assumeTrue(Sandboxes.prootWorks(), "proot is not installed or cannot ptrace here");
        rootfs = TestRootfs.create(tmp);
    }

    private TestRootfs.Capture run(int exit, RunSpec.Builder b) throws Exception {
        TestRootfs.Capture c = new TestRootfs.Capture();
        ExecResult r = new ProotSandbox().run(b.stdout(c.out).stderr(c.err).build());
        assertEquals(exit, r.exitCode(), () -> c.out() + c.err());
        return c;
    }

    private RunSpec.Builder sh(String script) {
        return RunSpec.builder(rootfs, List.of("/bin/sh", "-c", script)).env(List.of("PATH=/bin"))
                .network(RunSpec.Network.HOST);
    }

    @Test
    void smoke() throws Exception {
        TestRootfs.Capture c = run(4, sh("echo out; echo err >&2; exit 4"));
        assertEquals("out\n", c.out());
        assertTrue(c.err().contains("err"), c.err());
        assertEquals("uid=0(root) gid=0(root)\n", run(0, sh("id")).out());
        assertEquals("uid=1000(app) gid=1000(app)\n", run(0, sh("id").user("app")).out());
        assertEquals("/w/d\n", run(0, sh("pwd").workdir("/w/d")).out());
        // proot adds PWD, nothing else
        assertEquals("A=1\nPWD=/\n", run(0, RunSpec.builder(rootfs, List.of("/bin/env")).env(List.of("A=1"))
                .network(RunSpec.Network.HOST)).out());
        assertTrue(run(0, sh("cat /etc/hosts")).out().contains("localhost"));
        assertFalse(Files.exists(rootfs.resolve("etc/hosts")));
        run(0, sh("echo x > /canary"));
        assertTrue(Files.exists(rootfs.resolve("canary")));
        Path cache = tmp.resolve("cache");
        run(0, sh("echo c > /cache/f").mount(new RunMount.Cache(cache, "/cache", false)));
        assertEquals("c\n", run(0, sh("cat /cache/f").mount(new RunMount.Cache(cache, "/cache", false))).out());
        assertFalse(Files.exists(rootfs.resolve("cache")));
        ExecResult r = new ProotSandbox().run(sh("sleep 1000").timeout(Duration.ofMillis(1000)).build());
        assertTrue(r.timedOut());
        assertThrows(SandboxException.class, () -> new ProotSandbox().run(sh("true").network(RunSpec.Network.NONE).build()));
    }
}
