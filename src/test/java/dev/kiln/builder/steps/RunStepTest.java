package dev.kiln.builder.steps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.sandbox.SandboxPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RUN runs its command in the sandbox over the stage's rootfs, with the stage's env, user and directory. */
class RunStepTest {
    private static final Path BUSYBOX = Files.isRegularFile(Path.of("/bin/busybox")) ? Path.of("/bin/busybox")
            : Path.of("/usr/bin/busybox");

    private static void busybox(Path rootfs) throws Exception {
        Files.createDirectories(rootfs.resolve("bin"));
        Files.createDirectories(rootfs.resolve("etc"));
        Files.createDirectories(rootfs.resolve("tmp"));
        Files.copy(BUSYBOX, rootfs.resolve("bin/busybox"));
        rootfs.resolve("bin/busybox").toFile().setExecutable(true, false);
        for (String applet : List.of("sh", "echo", "cat", "id", "pwd", "env", "mkdir")) {
            Files.createSymbolicLink(rootfs.resolve("bin").resolve(applet), Path.of("busybox"));
        }
        Files.writeString(rootfs.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        Files.writeString(rootfs.resolve("etc/group"), "root:x:0:\n");
    }

    @Test
    void runsWithTheStagesVariablesAndDirectoryAndLogsItsOutput(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                ARG GREETING=hi
                ENV TARGET=/out
                WORKDIR /work
                RUN mkdir -p $TARGET && echo "$GREETING from $(pwd) home=$HOME path=$PATH" > $TARGET/said && echo logged
                """);
        busybox(f.rootfs);
        f.apply(4);
        assertEquals("hi from /work home=/root path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
                Files.readString(f.rootfs.resolve("out/said")));
        assertTrue(f.log().contains("  | logged\n"), f.log());
        assertEquals(BuildStep.Kind.RUN, f.step(3).kind());
    }

    @Test
    void aFailingCommandFailsTheStepWithItsExitCode(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                RUN exit 3
                """);
        busybox(f.rootfs);
        BuildException e = assertThrows(BuildException.class, () -> f.apply(1));
        assertEquals("the command returned a non-zero code: 3", e.getMessage());
    }

    @Test
    void twoBuildsInOneProcessEachGetTheirOwnSandboxPolicy(@TempDir Path dir) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.kiln.testkit.Tools.isRoot()
                && dev.kiln.builder.sandbox.Sandboxes.namespacesWork(), "needs root and namespaces");
        dev.kiln.testkit.Tools.require("bwrap", "bubblewrap");
        dev.kiln.testkit.Tools.require("socat", "socat");
        String dockerfile = """
                FROM scratch
                RUN grep Seccomp: /proc/self/status; env | grep ^HTTP_PROXY= || echo no proxy
                """;
        SandboxPolicy filtered = SandboxPolicy.DEFAULT;
        SandboxPolicy open = SandboxPolicy.DEFAULT.withSeccomp(false).withAllowedNetwork(SandboxPolicy.AllowedNetwork.HOST);
        StepFixture a = new StepFixture(Files.createDirectories(dir.resolve("a")), dockerfile,
                b -> b.allowNetwork(true).sandboxPolicy(filtered));
        StepFixture b = new StepFixture(Files.createDirectories(dir.resolve("b")), dockerfile,
                s -> s.allowNetwork(true).sandboxPolicy(open));
        busybox(a.rootfs);
        busybox(b.rootfs);
        // at the same time, so a process-wide switch could not serve both
        var first = java.util.concurrent.CompletableFuture.supplyAsync(() -> applied(a));
        var second = java.util.concurrent.CompletableFuture.supplyAsync(() -> applied(b));
        String logA = first.get(120, java.util.concurrent.TimeUnit.SECONDS);
        String logB = second.get(120, java.util.concurrent.TimeUnit.SECONDS);
        assertTrue(logA.contains("  | Seccomp:\t2\n") && logA.contains("  | HTTP_PROXY=http://127.0.0.1:"), logA);
        assertTrue(logB.contains("  | Seccomp:\t0\n") && logB.contains("  | no proxy\n"), logB);
    }

    private static String applied(StepFixture f) {
        try {
            return f.apply(1).log();
        } catch (Exception e) {
            throw new IllegalStateException(f.log(), e);
        }
    }

    @Test
    void hostNetworkIsRefusedWhereTheBuilderGivesRunNone(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                RUN --network=host true
                """);
        busybox(f.rootfs);
        BuildException e = assertThrows(BuildException.class, () -> f.apply(1));
        assertTrue(e.getMessage().startsWith("RUN --network=host: this builder gives RUN no network"), e.getMessage());
    }

    @Test
    void theCacheKeyChangesWithTheEnvironmentTheCommandSees(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                RUN echo hello
                ENV MODE=prod
                """);
        String before = f.step(0).cacheKey(f.ctx);
        f.step(1).apply(f.ctx);
        assertNotEquals(before, f.step(0).cacheKey(f.ctx), "the same line with other variables is another step");
        f.ctx.container(f.ctx.container().withUser("1000"));
        String asUser = f.step(0).cacheKey(f.ctx);
        f.ctx.container(f.ctx.container().withUser(null));
        assertNotEquals(asUser, f.step(0).cacheKey(f.ctx));
    }
}
