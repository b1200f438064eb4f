package dev.kiln.builder.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.builder.sandbox.ExecResult;
import dev.kiln.builder.sandbox.NamespaceSandbox;
import dev.kiln.builder.sandbox.RunSpec;
import dev.kiln.builder.sandbox.Sandbox;
import dev.kiln.builder.sandbox.SandboxException;
import dev.kiln.oci.layer.Compression;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.MtimePolicy;
import dev.kiln.testing.Commands;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The overlay snapshotter against the walking one, with real commands through the namespace
 * sandbox, as root and through the user-namespace variant an unprivileged caller gets (see
 * UnprivilegedOverlayTest for a caller that really is unprivileged).
 */
class OverlaySnapshotterTest {
    @TempDir
    Path tmp;
    final List<String> warnings = new ArrayList<>();

    @BeforeEach
    void needsRootAndOverlay() throws IOException {
        assumeTrue(Commands.isRoot(), "as root; UnprivilegedOverlayTest covers the rest");
        Path probe = Files.createDirectories(tmp.resolve("probe"));
        // the kernel here allows overlayfs in a user namespace: not finding it is a failure, not a skip
        assertTrue(new NamespaceSandbox(true).overlayWorks(probe, tmp), "overlayfs mounts as root");
        assertTrue(new NamespaceSandbox(false).overlayWorks(probe, tmp), "overlayfs mounts in a user namespace");
    }

    static Stream<Arguments> cases() {
        List<Arguments> all = new ArrayList<>();
        for (boolean privileged : new boolean[] {true, false}) {
            for (OverlayCases.Case c : OverlayCases.CASES) {
                if (privileged || !c.ids()) {
                    all.add(Arguments.of(c.name(), privileged, c));
                }
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0} privileged={1}")
    @MethodSource("cases")
    void theOverlayLayerIsTheWalkingLayer(String name, boolean privileged, OverlayCases.Case c) throws Exception {
        assertNull(OverlayCases.compare(tmp, c, new NamespaceSandbox(privileged)));
    }

    private OverlaySnapshotter overlay(Path rootfs, boolean required) throws IOException {
        return OverlaySnapshotter.startingNow(rootfs, TreeScanner.withDefaults(),
                new LayerWriter(Compression.none(), MtimePolicy.keep()), warnings::add, required);
    }

    private static ExecResult sh(Snapshotter s, Sandbox sandbox, Path rootfs, String script) throws Exception {
        ExecResult r = s.run(sandbox, RunSpec.builder(rootfs, List.of("/bin/sh", "-c", script)).env(List.of("PATH=/bin")).build());
        assertTrue(r.succeeded(), script);
        return r;
    }

    @Test
    void theRootfsIsUntouchedUntilTheSnapshotAppliesTheChange() throws Exception {
        Path rootfs = OverlayCases.rootfs(tmp);
        OverlaySnapshotter s = overlay(rootfs, true);
        sh(s, new NamespaceSandbox(true), rootfs, "echo new > /etc/new && rm /etc/old && cat /etc/new");
        assertFalse(Files.exists(rootfs.resolve("etc/new")));
        assertTrue(Files.exists(rootfs.resolve("etc/old")));
        assertEquals(List.of("DIRECTORY etc 755 0:0", "FILE etc/.wh.old 0 0:0 sha=" + sha(""), "FILE etc/new 644 0:0 sha=" + sha("new\n")),
                OverlayCases.layer(s));
        assertEquals("new\n", Files.readString(rootfs.resolve("etc/new")));
        assertFalse(Files.exists(rootfs.resolve("etc/old")));
    }

    @Test
    void scaffoldingNeverReachesTheLayer() throws Exception {
        Path rootfs = OverlayCases.rootfs(tmp);
        Files.delete(rootfs.resolve("etc/hosts"));
        Files.delete(rootfs.resolve("etc/resolv.conf"));
        Files.delete(rootfs.resolve("proc"));
        OverlaySnapshotter s = overlay(rootfs, true);
        sh(s, new NamespaceSandbox(true), rootfs, "test -s /etc/hosts && test -d /proc/self");
        assertEquals(List.of(), OverlayCases.layer(s));
        assertFalse(Files.exists(rootfs.resolve("etc/hosts"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(rootfs.resolve("proc"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void changesMadeOutsideARunAfterAnOverlayRunAreWalkedAgainstAnUpToDateBaseline() throws Exception {
        Path rootfs = OverlayCases.rootfs(tmp);
        OverlaySnapshotter s = overlay(rootfs, true);
        NamespaceSandbox sandbox = new NamespaceSandbox(true);
        s.beforeDirectChange(); // as a WORKDIR before the RUN would: the baseline is taken now
        sh(s, sandbox, rootfs, "rm -rf /d && echo n > /etc/new && mkdir -p /opt/x && echo 1 > /opt/x/one");
        assertEquals(List.of("FILE .wh.d 0 0:0 sha=" + sha(""), "DIRECTORY etc 755 0:0", "FILE etc/new 644 0:0 sha=" + sha("n\n"),
                "DIRECTORY opt 755 0:0", "DIRECTORY opt/x 755 0:0", "FILE opt/x/one 644 0:0 sha=" + sha("1\n")), OverlayCases.layer(s));
        // what COPY would do: Java writes the rootfs, then a walk finds it
        s.beforeDirectChange();
        Files.createDirectories(rootfs.resolve("d"));
        Files.writeString(rootfs.resolve("d/again"), "again");
        Files.writeString(rootfs.resolve("opt/x/one"), "2\n");
        assertEquals(List.of("DIRECTORY d 755 0:0", "FILE d/again 644 0:0 sha=" + sha("again"),
                "DIRECTORY opt 755 0:0", "DIRECTORY opt/x 755 0:0", "FILE opt/x/one 644 0:0 sha=" + sha("2\n")),
                OverlayCases.layer(s));
        sh(s, sandbox, rootfs, "rm /d/again /opt/x/one");
        assertEquals(List.of("DIRECTORY d 755 0:0", "FILE d/.wh.again 0 0:0 sha=" + sha(""),
                "DIRECTORY opt 755 0:0", "DIRECTORY opt/x 755 0:0", "FILE opt/x/.wh.one 0 0:0 sha=" + sha("")),
                OverlayCases.layer(s));
        s.beforeDirectChange();
        assertEquals(List.of(), OverlayCases.layer(s));
        assertEquals(List.of(), warnings);
    }

    @Test
    void runsAloneNeverWalkTheRootfsAndTheFirstDirectChangeStartsFromTheirResult() throws Exception {
        Path rootfs = OverlayCases.rootfs(tmp);
        OverlaySnapshotter s = overlay(rootfs, true);
        NamespaceSandbox sandbox = new NamespaceSandbox(true);
        sh(s, sandbox, rootfs, "echo 1 > /etc/one");
        assertEquals(2, OverlayCases.layer(s).size());
        sh(s, sandbox, rootfs, "rm /etc/one");
        assertEquals(2, OverlayCases.layer(s).size());
        assertFalse(s.hasBaseline());
        s.beforeDirectChange();
        assertTrue(s.hasBaseline());
        Files.writeString(rootfs.resolve("etc/two"), "2");
        assertEquals(List.of("DIRECTORY etc 755 0:0", "FILE etc/two 644 0:0 sha=" + sha("2")), OverlayCases.layer(s));
        OverlaySnapshotter unannounced = overlay(rootfs, true);
        Files.writeString(rootfs.resolve("etc/three"), "3");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> OverlayCases.layer(unannounced));
        assertTrue(e.getMessage().contains("announced"), e.getMessage());
    }

    /** As on the rootfs itself (and in BuildKit): the shared inode changes, so every name has the new content. */
    @Test
    void aChangeToAHardlinkedFileOfTheRootfsReachesEveryName() throws Exception {
        Path rootfs = OverlayCases.rootfs(tmp);
        OverlaySnapshotter s = overlay(rootfs, true);
        Object inode = Files.getAttribute(rootfs.resolve("hl1"), "unix:ino");
        sh(s, new NamespaceSandbox(true), rootfs, "echo more >> /hl1");
        assertEquals(List.of("FILE hl1 644 0:0 sha=" + sha("linked\nmore\n"), "HARDLINK hl2 644 0:0 -> hl1"),
                OverlayCases.layer(s));
        assertEquals("linked\nmore\n", Files.readString(rootfs.resolve("hl2")));
        assertEquals(inode, Files.getAttribute(rootfs.resolve("hl2"), "unix:ino"));
        sh(s, new NamespaceSandbox(true), rootfs, "echo 1 > /etc/after");
        assertEquals(List.of("FILE etc/after 644 0:0 sha=" + sha("1\n")), OverlayCases.layer(s).subList(1, 2));
    }

    @Test
    void withoutAnOverlayCapableSandboxAutoWalksAndOverlayRefuses() throws Exception {
        Path rootfs = OverlayCases.rootfs(tmp);
        NamespaceSandbox real = new NamespaceSandbox(true);
        Sandbox plain = new Sandbox() {
            @Override
            public ExecResult run(RunSpec spec) throws IOException, InterruptedException {
                assertNull(spec.overlay());
                return real.run(spec);
            }

            @Override
            public String name() {
                return "plain";
            }
        };
        OverlaySnapshotter auto = overlay(rootfs, false);
        sh(auto, plain, rootfs, "echo new > /etc/new");
        assertEquals(List.of("DIRECTORY etc 755 0:0", "FILE etc/new 644 0:0 sha=" + sha("new\n")), OverlayCases.layer(auto));
        OverlaySnapshotter required = overlay(rootfs, true);
        SandboxException e = assertThrows(SandboxException.class, () -> sh(required, plain, rootfs, "true"));
        assertTrue(e.getMessage().contains("--snapshot-mode=overlay") && e.getMessage().contains("plain"), e.getMessage());
    }

    @Test
    void modesParseKanikosNames() {
        assertEquals(Snapshotters.Mode.AUTO, Snapshotters.Mode.of(null));
        assertEquals(Snapshotters.Mode.OVERLAY, Snapshotters.Mode.of("Overlay"));
        for (String walk : List.of("full", "redo", "time", "walk")) {
            assertEquals(Snapshotters.Mode.WALK, Snapshotters.Mode.of(walk));
        }
        assertThrows(IllegalArgumentException.class, () -> Snapshotters.Mode.of("fast"));
    }

    private static String sha(String s) throws IOException {
        return dev.kiln.oci.Digester.digest(new java.io.ByteArrayInputStream(s.getBytes()), "sha256").hex().substring(0, 12);
    }
}
