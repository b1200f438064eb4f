package dev.kiln.builder.sandbox;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SandboxesTest {
    @TempDir
    Path tmp;

    @Test
    void modes() throws Exception {
        assertEquals(Sandboxes.Mode.IN_PLACE, Sandboxes.Mode.of("in-place"));
        assertEquals(Sandboxes.Mode.AUTO, Sandboxes.Mode.of(null));
        assertThrows(IllegalArgumentException.class, () -> Sandboxes.Mode.of("chroot"));
        assertInstanceOf(ProotSandbox.class, Sandboxes.choose(Sandboxes.Mode.PROOT));
        assertInstanceOf(NamespaceSandbox.class, Sandboxes.choose(Sandboxes.Mode.NAMESPACES));
        Assumptions.assumeTrue(Sandboxes.namespacesWork(), "namespaces do not work here");
        assertInstanceOf(NamespaceSandbox.class, Sandboxes.choose(Sandboxes.Mode.AUTO));
    }

    @Test
    void inPlaceIsRefusedWithoutForce() throws Exception {
        Assumptions.assumeFalse("1".equals(System.getenv(InPlaceSandbox.MARKER)), "running in an executor container");
        SandboxException e = assertThrows(SandboxException.class, () -> Sandboxes.choose(Sandboxes.Mode.IN_PLACE));
        assertTrue(e.getMessage().contains(InPlaceSandbox.MARKER), e.getMessage());
        SandboxException run = assertThrows(SandboxException.class, () -> new InPlaceSandbox(false)
                .run(RunSpec.builder(Path.of("/"), List.of("/bin/true")).build()));
        assertTrue(run.getMessage().contains("executor container"), run.getMessage());
        assertThrows(SandboxException.class, () -> new InPlaceSandbox(true)
                .run(RunSpec.builder(TestRootfs.create(tmp), List.of("/bin/true")).build()), "rootfs must be /");
    }

    @Test
    void inPlaceForcedRunsOnTheHost() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Path wd = tmp.resolve("wd");
        ExecResult r = new InPlaceSandbox(true).run(RunSpec.builder(Path.of("/"), List.of("/bin/sh", "-c", "echo $X; pwd; env | wc -l"))
                .env(List.of("X=1")).workdir(wd.toString()).stdout(out).build());
        assertEquals(0, r.exitCode());
        String[] lines = out.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals("1", lines[0]);
        assertEquals(wd.toString(), lines[1]);
        assertEquals("2", lines[2].trim(), "X and PWD only");
    }
}
