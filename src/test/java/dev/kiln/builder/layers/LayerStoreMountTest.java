package dev.kiln.builder.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.builder.rootfs.RawTar;
import dev.kiln.oci.Digest;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.LogCapture;
import dev.kiln.testkit.Slowness;
import dev.kiln.testkit.Tools;
import dev.kiln.testkit.TreeDescription;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The layer store's overlay mounts as root makes them: {@code AUTO} stacks by overlayfs where a
 * probe in the store's directory mounts one and copies (saying why once) where it cannot, a
 * mount a killed build left is undone when the store opens again, and two stages assembling over
 * the same kept layers at once neither see each other's writes nor change the layers.
 */
class LayerStoreMountTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void needsRoot() {
        assumeTrue(Tools.isRoot(), "mounting an overlay in this process needs root");
    }

    private LayerStore.Layer layer(RawTar tar) throws IOException {
        byte[] bytes = tar.stream().readAllBytes();
        Path file = Files.createTempFile(tmp, "layer-", ".tar");
        Files.write(file, bytes);
        return new LayerStore.Layer(Digest.sha256(bytes), () -> file);
    }

    private List<LayerStore.Layer> twoLayers() throws IOException {
        return List.of(layer(new RawTar().dir("etc").file("etc/passwd", "root\n").file("etc/hosts", "old\n").dir("opt")
                        .file("opt/a", "a")),
                layer(new RawTar().dir("etc").file("etc/.wh.hosts", "").file("etc/group", "root\n")));
    }

    /** The mountinfo lines naming this test's directory: its overlays, wherever they are. */
    private long mountsUnderTmp() throws IOException {
        String dir = tmp.toRealPath().toString();
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/mountinfo"))) {
            return lines.filter(l -> l.contains(dir)).count();
        }
    }

    @Test
    void autoStacksByOverlayfsWhereTheStoreCanMountOneAndShowsWhatACopyShows() throws IOException {
        LayerStore store = LayerStore.open(tmp.resolve("store"), Long.MAX_VALUE);
        Path overlaid = Files.createDirectory(tmp.resolve("overlaid"));
        Path copied = Files.createDirectory(tmp.resolve("copied"));
        try (Assembly auto = store.assemble(twoLayers(), overlaid, LayerStore.Mode.AUTO, line -> { });
             Assembly copy = store.assemble(twoLayers(), copied, LayerStore.Mode.COPY, line -> { })) {
            assertTrue(auto.overlay(), auto.how());
            assertFalse(copy.overlay(), copy.how());
            assertEquals(TreeDescription.describe(copied), TreeDescription.describe(overlaid));
            assertFalse(Files.exists(overlaid.resolve("etc/hosts"), LinkOption.NOFOLLOW_LINKS), "the whiteout did not hide etc/hosts");
        }
        assertEquals(0, mountsUnderTmp(), "an overlay stayed mounted after the assembly was closed");
    }

    /**
     * A RUN that writes one name of a hardlinked file changes every name on a copy of the layers;
     * on overlayfs without {@code index=on} the copy-up gave only the written name the new content.
     */
    @Test
    void aWriteToOneNameOfAHardlinkedFileReachesEveryNameAsOnACopy() throws IOException {
        List<LayerStore.Layer> stack = List.of(layer(new RawTar().dir("bin").file("bin/tool", "v1\n", 0755, 0, 0)
                .hardlink("bin/tool-alias", "bin/tool")), layer(new RawTar().file("top", "t")));
        LayerStore store = LayerStore.open(tmp.resolve("store"), Long.MAX_VALUE);
        Map<String, String> seen = new java.util.TreeMap<>();
        for (LayerStore.Mode mode : List.of(LayerStore.Mode.COPY, LayerStore.Mode.AUTO)) {
            Path rootfs = Files.createDirectory(tmp.resolve("rootfs-" + mode));
            try (Assembly assembly = store.assemble(stack, rootfs, mode, line -> { })) {
                assertEquals(mode == LayerStore.Mode.AUTO, assembly.overlay(), assembly.how());
                Files.writeString(rootfs.resolve("bin/tool"), "v2\n"); // opened for writing, as `echo v2 > bin/tool`
                seen.put(mode.name(), Files.readString(rootfs.resolve("bin/tool-alias")));
            }
        }
        assertEquals(Map.of("AUTO", "v2\n", "COPY", "v2\n"), seen);
    }

    @Test
    void autoCopiesWhereTheStoresFilesystemCannotCarryAnOverlayAndSaysWhyOnce() throws IOException {
        // overlayfs refuses an upper directory on overlayfs: a store inside an overlay mount cannot stack
        Path outer = Files.createDirectory(tmp.resolve("outer"));
        for (String d : List.of("outer-lower", "outer-upper", "outer-work")) {
            Files.createDirectory(tmp.resolve(d));
        }
        ExecResult mounted = Tools.run("mount", "-t", "overlay", "overlay", "-o", "lowerdir=" + tmp.resolve("outer-lower")
                + ",upperdir=" + tmp.resolve("outer-upper") + ",workdir=" + tmp.resolve("outer-work"), outer.toString());
        assertEquals(0, mounted.exitCode(), mounted.output());
        try (LogCapture log = LogCapture.start()) {
            LayerStore store = LayerStore.open(outer.resolve("store"), Long.MAX_VALUE);
            for (int i = 0; i < 2; i++) {
                Path rootfs = Files.createDirectory(tmp.resolve("rootfs-" + i));
                try (Assembly assembly = store.assemble(twoLayers(), rootfs, LayerStore.Mode.AUTO, line -> { })) {
                    assertFalse(assembly.overlay(), assembly.how());
                    assertTrue(assembly.how().startsWith("copied 2 kept layers (mount "), assembly.how());
                    assertEquals("root\n", Files.readString(rootfs.resolve("etc/group")));
                    assertFalse(Files.exists(rootfs.resolve("etc/hosts")));
                }
            }
            List<String> said = log.lines(Level.INFO).stream().filter(l -> l.contains("not overlayfs mounts")).toList();
            assertEquals(1, said.size(), log.lines(Level.ALL).toString());
        } finally {
            Tools.run("umount", outer.toString());
        }
        assertEquals(0, mountsUnderTmp(), "the probe's overlay stayed mounted");
    }

    @Test
    void aMountLeftByAKilledBuildIsUndoneWhenTheStoreOpensAgain() throws Exception {
        Path store = tmp.resolve("store");
        Path tar = tmp.resolve("layer.tar");
        Files.write(tar, new RawTar().dir("etc").file("etc/passwd", "root\n").stream().readAllBytes());
        Path rootfs = Files.createDirectory(tmp.resolve("killed-build")).resolve("rootfs");
        Files.createDirectory(rootfs);
        String java = ProcessHandle.current().info().command().orElse("java");
        Process child = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                KilledMountMain.class.getName(), store.toString(), tar.toString(), rootfs.toString())
                .redirectError(tmp.resolve("child.err").toFile()).start();
        try {
            Future<String> line = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r);
                t.setDaemon(true);
                return t;
            }).submit(() -> new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8)).readLine());
            Duration wait = Slowness.scale(Duration.ofSeconds(30));
            String said;
            try {
                said = line.get(wait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                said = "nothing within " + wait;
            }
            assertEquals("MOUNTED", said, Files.readString(tmp.resolve("child.err")));
            assertTrue(OverlayMount.mounted(rootfs.toRealPath()), "the child did not mount its rootfs");
        } finally {
            child.destroyForcibly(); // SIGKILL: no shutdown hook, no unmount
            child.waitFor(60, TimeUnit.SECONDS);
        }
        assertTrue(OverlayMount.mounted(rootfs.toRealPath()), "a killed process's mount stays until someone undoes it");
        try (Stream<Path> records = Files.list(store.resolve("mounts"))) {
            assertEquals(1, records.count());
        }

        LayerStore reopened = LayerStore.open(store, Long.MAX_VALUE);

        assertFalse(OverlayMount.mounted(rootfs), "still mounted after the store opened again");
        assertEquals(0, mountsUnderTmp());
        assertFalse(Files.exists(rootfs), "the killed build's rootfs stayed");
        try (Stream<Path> records = Files.list(store.resolve("mounts"))) {
            assertEquals(0, records.count());
        }
        Path again = Files.createDirectory(tmp.resolve("again"));
        LayerStore.Layer layer = new LayerStore.Layer(Digest.sha256(Files.readAllBytes(tar)), () -> tar);
        assertTrue(reopened.contains(ChainIds.of(List.of(layer.diffId())).get(0)));
        try (Assembly assembly = reopened.assemble(List.of(layer), again, LayerStore.Mode.AUTO, line -> { })) {
            assertTrue(assembly.overlay(), assembly.how());
            assertEquals("root\n", Files.readString(again.resolve("etc/passwd")));
        }
    }

    @Test
    void twoStagesAssemblingOverTheSameKeptLayersAtOnceStayApart() throws Exception {
        LayerStore store = LayerStore.open(tmp.resolve("store"), Long.MAX_VALUE);
        List<LayerStore.Layer> stack = twoLayers();
        CyclicBarrier together = new CyclicBarrier(2);
        ExecutorService threads = Executors.newFixedThreadPool(2);
        List<Future<Map<String, String>>> seen = new ArrayList<>();
        try {
            for (String name : List.of("a", "b")) {
                seen.add(threads.submit(() -> {
                    Path rootfs = Files.createDirectory(tmp.resolve("rootfs-" + name));
                    together.await(30, TimeUnit.SECONDS); // both unpack, probe and mount at once
                    try (Assembly assembly = store.assemble(stack, rootfs, LayerStore.Mode.AUTO, line -> { })) {
                        assertTrue(assembly.overlay(), assembly.how());
                        Files.writeString(rootfs.resolve("etc/" + name), name);
                        Files.writeString(rootfs.resolve("etc/passwd"), "changed by " + name);
                        Files.delete(rootfs.resolve("opt/a"));
                        together.await(30, TimeUnit.SECONDS); // both written before either looks
                        Map<String, String> tree = TreeDescription.describe(rootfs);
                        together.await(30, TimeUnit.SECONDS); // neither unmounts while the other looks
                        return tree;
                    }
                }));
            }
            Map<String, String> a = seen.get(0).get(2, TimeUnit.MINUTES);
            Map<String, String> b = seen.get(1).get(2, TimeUnit.MINUTES);
            assertTrue(a.containsKey("etc/a") && !a.containsKey("etc/b"), a.toString());
            assertTrue(b.containsKey("etc/b") && !b.containsKey("etc/a"), b.toString());
            assertFalse(a.containsKey("opt/a") || b.containsKey("opt/a"));
        } finally {
            threads.shutdownNow();
        }
        List<String> keptPasswd = new ArrayList<>();
        try (Stream<Path> layers = Files.list(tmp.resolve("store/layers"))) {
            for (Path l : (Iterable<Path>) layers::iterator) {
                Path passwd = l.resolve("fs/etc/passwd");
                if (Files.exists(passwd)) {
                    keptPasswd.add(Files.readString(passwd));
                }
                assertFalse(Files.exists(l.resolve("fs/etc/a")) || Files.exists(l.resolve("fs/etc/b")), "a stage wrote into " + l);
            }
        }
        assertEquals(List.of("root\n"), keptPasswd);
        assertEquals(0, mountsUnderTmp(), "an overlay stayed mounted");
        // the kept layers still make the original image
        Path fresh = Files.createDirectory(tmp.resolve("fresh"));
        try (Assembly ignored = store.assemble(stack, fresh, LayerStore.Mode.AUTO, line -> { })) {
            assertEquals("root\n", Files.readString(fresh.resolve("etc/passwd")));
            assertEquals("a", Files.readString(fresh.resolve("opt/a")));
        }
    }
}
