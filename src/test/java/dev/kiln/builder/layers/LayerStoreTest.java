package dev.kiln.builder.layers;

import static dev.kiln.testkit.Tools.isRoot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.builder.rootfs.LayerExtractionException;
import dev.kiln.builder.rootfs.LayerExtractor;
import dev.kiln.builder.rootfs.RawTar;
import dev.kiln.oci.Digest;
import dev.kiln.testkit.TreeDescription;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerStoreTest {
    @TempDir
    Path tmp;
    final List<String> warnings = new ArrayList<>();
    final AtomicInteger fetched = new AtomicInteger();
    int rootfsCount;

    /** A layer file and its stack entry; every fetch of its blob is counted. */
    private LayerStore.Layer layer(RawTar tar) throws IOException {
        byte[] bytes = tar.stream().readAllBytes();
        Path file = Files.createTempFile(tmp, "layer-", ".tar");
        Files.write(file, bytes);
        return new LayerStore.Layer(Digest.sha256(bytes), () -> {
            fetched.incrementAndGet();
            return file;
        });
    }

    private Path newRootfs() throws IOException {
        return Files.createDirectory(tmp.resolve("rootfs-" + rootfsCount++));
    }

    /** What LayerExtractor makes of the same layers, applied in turn to one directory. */
    private Path extracted(List<LayerStore.Layer> stack) throws IOException {
        Path rootfs = newRootfs();
        LayerExtractor extractor = LayerExtractor.forRootfs(rootfs);
        for (LayerStore.Layer l : stack) {
            extractor.apply(l.blob().get());
        }
        return rootfs;
    }

    private LayerStore store(long max) throws IOException {
        return LayerStore.open(tmp.resolve("store"), max);
    }

    /**
     * The tree as a layer records it, plus user xattrs; directories' mtimes are left out (a tar
     * applied to a directory changes the mtime of the directories it writes into without listing them).
     */
    private static Map<String, String> describe(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        for (Map.Entry<String, String> e : TreeDescription.describe(dir).entrySet()) {
            Path p = dir.resolve(e.getKey());
            String d = e.getValue();
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                d = d.replaceAll(" t=\\d+", "");
            }
            if (!Files.isSymbolicLink(p)) {
                UserDefinedFileAttributeView view = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
                for (String name : new java.util.TreeSet<>(view.list())) {
                    ByteBuffer value = ByteBuffer.allocate(view.size(name));
                    view.read(name, value);
                    d += " user." + name + "=" + new String(value.array(), StandardCharsets.UTF_8);
                }
            }
            out.put(e.getKey(), d);
        }
        return out;
    }

    /** A base, then a layer of whiteouts and opaque directories of every kind, then one more on top. */
    private List<LayerStore.Layer> whiteoutStack() throws IOException {
        LayerStore.Layer base = layer(new RawTar().dir("etc").file("etc/passwd", "root:x:0:0\n")
                .file("etc/hosts", "127.0.0.1 localhost\n", 0600, 0, 0)
                .dir("usr").dir("usr/lib").file("usr/lib/libc.so", "libc").symlink("lib", "usr/lib")
                .dir("opt").dir("opt/old").file("opt/old/a", "a").file("opt/keep", "keep")
                .dir("var").dir("var/cache").file("var/cache/x", "x").dir("var/cache/sub").file("var/cache/sub/y", "y")
                .dir("data").file("data/one", "1").file("data/two", "2")
                .file("top", "top").file("bin-sh", "sh", 0755, 0, 0).hardlink("bin-sh2", "bin-sh")
                .fileWithXattr("etc/tagged", "t", "user.origin", "base"));
        LayerStore.Layer changes = layer(new RawTar().dir("etc")
                .file("etc/.wh.hosts", "")                 // a file deleted
                .dir("opt").file("opt/.wh.old", "")        // a directory deleted
                .dir("var/cache").file("var/cache/.wh..wh..opq", "").file("var/cache/new", "new") // opaque, refilled
                .file(".wh.data", "").dir("data").file("data/three", "3") // replaced by a new directory
                .file(".wh.top", "")                       // at the root
                .file("etc/.wh.nothing", ""));             // a whiteout of nothing
        LayerStore.Layer top = layer(new RawTar().dir("etc").file("etc/hosts", "::1 localhost\n")
                .dir("opt").dir("opt/old").file("opt/old/b", "b"));
        return List.of(base, changes, top);
    }

    @Test
    void copyGivesWhatTheExtractorGivesWithWhiteoutsAndOpaqueDirectories() throws IOException {
        List<LayerStore.Layer> stack = whiteoutStack();
        Path rootfs = newRootfs();
        try (Assembly assembly = store(Long.MAX_VALUE).assemble(stack, rootfs, LayerStore.Mode.COPY, warnings::add)) {
            assertFalse(assembly.overlay());
            assertEquals(describe(extracted(stack)), describe(rootfs));
        }
        assertFalse(Files.exists(rootfs.resolve("data/one")), "the replaced directory's old file is gone");
        assertEquals("::1 localhost\n", Files.readString(rootfs.resolve("etc/hosts")));
    }

    @Test
    void aLeasedStackAnswersForEveryPathWhatTheExtractedTreeHolds() throws IOException {
        List<LayerStore.Layer> stack = whiteoutStack();
        Path extracted = extracted(stack);
        List<String> probes = List.of("etc", "etc/hosts", "etc/passwd", "etc/nothing", "opt", "opt/old", "opt/old/a",
                "opt/old/b", "var/cache", "var/cache/x", "var/cache/sub", "var/cache/sub/y", "data", "data/one", "top",
                "lib", "lib/libc.so", "usr/lib", "missing", "missing/below", "etc/passwd/below");
        try (KeptStack kept = store(Long.MAX_VALUE).lease(stack, warnings::add)) {
            for (String path : probes) {
                KeptStack.Found found = kept.find(path);
                String expected = "missing";
                Path p = extracted;
                for (String part : path.split("/")) {
                    p = p.resolve(part);
                    if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                        expected = "missing";
                        break;
                    }
                    expected = Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "dir" : "in the way";
                    if (!expected.equals("dir")) {
                        break;
                    }
                }
                String actual = found.conflict() ? "in the way" : found.dir() != null ? "dir" : "missing";
                assertEquals(expected, actual, path);
                if (found.dir() != null) {
                    assertEquals(Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS),
                            Files.getAttribute(found.dir(), "unix:mode", LinkOption.NOFOLLOW_LINKS), path + " mode");
                }
            }
        }
    }

    @Test
    void overlayGivesWhatTheExtractorGivesWithWhiteoutsAndOpaqueDirectories() throws IOException {
        assumeTrue(isRoot(), "mounting an overlay in this process needs root");
        List<LayerStore.Layer> stack = whiteoutStack();
        Path rootfs = newRootfs();
        Map<String, String> expected = describe(extracted(stack));
        try (Assembly assembly = store(Long.MAX_VALUE).assemble(stack, rootfs, LayerStore.Mode.OVERLAY, warnings::add)) {
            assertTrue(assembly.overlay(), assembly.how());
            assertEquals(expected, describe(rootfs));
            // writes go to the rootfs's own upper directory, never to a kept layer
            Files.writeString(rootfs.resolve("etc/passwd"), "changed");
            Files.delete(rootfs.resolve("usr/lib/libc.so"));
        }
        LayerStore.Layer base = stack.get(0);
        Path again = newRootfs();
        try (Assembly assembly = store(Long.MAX_VALUE).assemble(List.of(base), again, LayerStore.Mode.COPY, warnings::add)) {
            assertEquals("root:x:0:0\n", Files.readString(again.resolve("etc/passwd")));
            assertEquals("libc", Files.readString(again.resolve("usr/lib/libc.so")));
        }
    }

    @Test
    void overlayInAUserNamespaceShowsTheSameTree() throws Exception {
        List<LayerStore.Layer> stack = whiteoutStack();
        Path rootfs = newRootfs();
        Map<String, String> expected = new TreeMap<>();
        Path reference = extracted(stack);
        try (Stream<Path> walk = Files.walk(reference)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                String rel = reference.relativize(p).toString();
                expected.put(rel.isEmpty() ? "." : rel, type(p) + (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)
                        ? " " + Files.size(p) : ""));
            }
        }
        LayerStore store = store(Long.MAX_VALUE);
        try (Assembly ignored = store.assemble(stack, rootfs, LayerStore.Mode.COPY, warnings::add)) {
            StringBuilder lowers = new StringBuilder();
            List<Digest> chains = new ArrayList<>(ChainIds.of(stack.stream().map(LayerStore.Layer::diffId).toList()));
            java.util.Collections.reverse(chains);
            for (Digest chain : chains) {
                lowers.append(lowers.length() == 0 ? "" : ":").append(store.dir().resolve("layers").resolve(chain.hex()).resolve("fs"));
            }
            Path merged = Files.createDirectory(tmp.resolve("merged"));
            // as an unprivileged build's sandbox mounts it: a user namespace, userxattr
            Process p = new ProcessBuilder("unshare", "-Urm", "sh", "-c",
                    "mount -t overlay overlay -o lowerdir=" + lowers + ",userxattr " + merged
                            + " && cd " + merged + " && find . -printf '%p %y %s\\n'").redirectErrorStream(true).start();
            List<String> lines = new ArrayList<>();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                r.lines().forEach(lines::add);
            }
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assumeTrue(p.exitValue() == 0, "no overlayfs in a user namespace here: " + lines);
            Map<String, String> actual = new TreeMap<>();
            for (String line : lines) {
                String[] f = line.split(" ");
                String rel = f[0].equals(".") ? "." : f[0].substring(2);
                actual.put(rel, f[1] + (f[1].equals("f") ? " " + f[2] : ""));
            }
            assertEquals(expected, actual);
        }
    }

    private static String type(Path p) {
        return Files.isSymbolicLink(p) ? "l" : Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "d" : "f";
    }

    @Test
    void eachLayerIsUnpackedOnceForTwoBuilds() throws IOException {
        List<LayerStore.Layer> stack = whiteoutStack();
        LayerStore store = store(Long.MAX_VALUE);
        Path first = newRootfs();
        try (Assembly ignored = store.assemble(stack, first, LayerStore.Mode.COPY, warnings::add)) {
            assertEquals(3, fetched.get());
        }
        Path second = newRootfs();
        try (Assembly ignored = store.assemble(stack, second, LayerStore.Mode.COPY, warnings::add)) {
            assertEquals(3, fetched.get(), "the second build fetched a blob again");
        }
        assertEquals(describe(first), describe(second));
    }

    @Test
    void layersAreKeptByChainId() throws Exception {
        List<LayerStore.Layer> stack = whiteoutStack();
        LayerStore store = store(Long.MAX_VALUE);
        try (Assembly ignored = store.assemble(stack.subList(0, 2), newRootfs(), LayerStore.Mode.COPY, warnings::add)) {
            // the OCI image spec's definition, computed here independently
            String d1 = stack.get(0).diffId().toString();
            String chain2 = "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest((d1 + " " + stack.get(1).diffId()).getBytes(StandardCharsets.UTF_8)));
            assertTrue(store.contains(Digest.parse(d1)));
            assertTrue(store.contains(Digest.parse(chain2)));
            assertFalse(store.contains(stack.get(1).diffId()), "the second layer is kept under its chain, not its DiffID");
        }
        // the same layer on another parent is another kept layer
        int before = fetched.get();
        try (Assembly ignored = store.assemble(List.of(stack.get(1)), newRootfs(), LayerStore.Mode.COPY, warnings::add)) {
            assertEquals(before + 1, fetched.get());
            assertTrue(store.contains(stack.get(1).diffId()));
        }
    }

    @Test
    void evictionKeepsTheBudgetAndNeverTakesALeasedLayer() throws IOException {
        LayerStore.Layer a = layer(new RawTar().file("a", "x".repeat(100_000)));
        LayerStore.Layer b = layer(new RawTar().file("b", "y".repeat(100_000)));
        LayerStore.Layer c = layer(new RawTar().file("c", "z".repeat(100_000)));
        LayerStore store = store(250_000); // room for two
        Assembly leasedA = store.assemble(List.of(a), newRootfs(), LayerStore.Mode.COPY, warnings::add);
        try (Assembly ignored = store.assemble(List.of(b), newRootfs(), LayerStore.Mode.COPY, warnings::add)) {
            assertTrue(store.contains(a.diffId()) && store.contains(b.diffId()));
        }
        try (Assembly ignored = store.assemble(List.of(c), newRootfs(), LayerStore.Mode.COPY, warnings::add)) {
            assertTrue(store.contains(a.diffId()), "a leased layer was evicted");
            assertFalse(store.contains(b.diffId()), "the least recently used free layer stays");
            assertTrue(store.contains(c.diffId()));
            assertTrue(store.size() <= 250_000, "over budget: " + store.size());
        }
        leasedA.close();
        LayerStore small = store(150_000);
        small.evict();
        assertFalse(store.contains(a.diffId()), "the older free layer stays over budget");
        assertTrue(store.contains(c.diffId()));
        assertTrue(store.size() <= 150_000);
    }

    @Test
    void aLayerLeasedByAnotherProcessIsNotEvicted() throws Exception {
        LayerStore.Layer a = layer(new RawTar().file("a", "x".repeat(100_000)));
        LayerStore store = store(Long.MAX_VALUE);
        store.assemble(List.of(a), newRootfs(), LayerStore.Mode.COPY, warnings::add).close();
        // another process's build: a shared POSIX lock on the layer's lock file, as the store takes it
        Process other = new ProcessBuilder("python3", "-c", "import fcntl, sys, time\n"
                + "f = open(sys.argv[1], 'r+')\nfcntl.lockf(f, fcntl.LOCK_SH)\nprint('locked', flush=True)\ntime.sleep(120)\n",
                store.dir().resolve("locks").resolve(a.diffId().hex()).toString()).redirectErrorStream(true).start();
        try {
            String line = new BufferedReader(new InputStreamReader(other.getInputStream(), StandardCharsets.UTF_8)).readLine();
            assertEquals("locked", line);
            LayerStore.open(store.dir(), 0).evict();
            assertTrue(store.contains(a.diffId()), "evicted while another process uses it");
        } finally {
            other.destroy();
            other.waitFor(30, TimeUnit.SECONDS);
        }
        LayerStore.open(store.dir(), 0).evict();
        assertFalse(store.contains(a.diffId()), "free once the other process is gone");
    }

    @Test
    void whatACrashLeavesIsNeverUsedAndIsCleanedUp() throws IOException {
        List<LayerStore.Layer> stack = whiteoutStack();
        LayerStore store = store(Long.MAX_VALUE);
        // a crash mid-unpack: a temp dir (its lock released by the dead process)
        Path half = Files.createDirectories(store.dir().resolve("tmp/0123456789ab-dead/fs/etc"));
        Files.writeString(half.resolve("passwd"), "half");
        Files.createFile(store.dir().resolve("tmp/0123456789ab-dead.lock"));
        // and a kept layer damaged by hand: no size, so not complete
        Path damaged = Files.createDirectories(store.dir().resolve("layers").resolve(stack.get(0).diffId().hex()).resolve("fs"));
        Files.writeString(damaged.resolve("junk"), "junk");
        LayerStore reopened = LayerStore.open(store.dir(), Long.MAX_VALUE);
        assertFalse(Files.exists(store.dir().resolve("tmp/0123456789ab-dead")), "crash leftovers stay");
        assertFalse(Files.exists(store.dir().resolve("tmp/0123456789ab-dead.lock")));
        Path rootfs = newRootfs();
        try (Assembly ignored = reopened.assemble(stack, rootfs, LayerStore.Mode.COPY, warnings::add)) {
            assertEquals(describe(extracted(stack)), describe(rootfs));
            assertFalse(Files.exists(rootfs.resolve("junk")));
        }
    }

    @Test
    void aHardlinkIntoALowerLayerUnpacksStraightIntoTheRootfs() throws IOException {
        List<LayerStore.Layer> stack = List.of(layer(new RawTar().file("a", "a")), layer(new RawTar().hardlink("b", "a")));
        Path rootfs = newRootfs();
        try (Assembly assembly = store(Long.MAX_VALUE).assemble(stack, rootfs, LayerStore.Mode.AUTO, warnings::add)) {
            assertEquals("unpacked", assembly.how());
            assertEquals(describe(extracted(stack)), describe(rootfs));
        }
    }

    @Test
    void aBrokenLayerFailsAsTheExtractorSays() throws IOException {
        List<LayerStore.Layer> stack = List.of(layer(new RawTar().file("../escape", "x")));
        Path rootfs = newRootfs();
        LayerExtractionException e = assertThrows(LayerExtractionException.class,
                () -> store(Long.MAX_VALUE).assemble(stack, rootfs, LayerStore.Mode.AUTO, warnings::add));
        assertTrue(e.getMessage().contains("climbs above"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("escape")));
    }

    @Test
    void aPathThroughALowerSymlinkIsCopiedWhereOverlayfsWouldNotFollowIt() throws IOException {
        assumeTrue(isRoot(), "mounting an overlay in this process needs root");
        // the second layer writes lib/extra without listing lib/, which the first layer made a symlink
        List<LayerStore.Layer> stack = List.of(
                layer(new RawTar().dir("usr").dir("usr/lib").file("usr/lib/libc.so", "libc").symlink("lib", "usr/lib")),
                layer(new RawTar().file("lib/extra.so", "extra")));
        Path rootfs = newRootfs();
        try (Assembly assembly = store(Long.MAX_VALUE).assemble(stack, rootfs, LayerStore.Mode.OVERLAY, warnings::add)) {
            assertFalse(assembly.overlay(), assembly.how());
            assertEquals(describe(extracted(stack)), describe(rootfs));
            assertEquals("extra", Files.readString(rootfs.resolve("usr/lib/extra.so")));
        }
    }

    @Test
    void overlayMarkersFromTheLayerItselfAreRefused() throws IOException {
        List<LayerStore.Layer> stack = List.of(layer(new RawTar().dir("d").file("d/a", "a")),
                layer(new RawTar().fileWithXattr("d/b", "", "user.overlay.whiteout", "y")));
        Path rootfs = newRootfs();
        try (Assembly ignored = store(Long.MAX_VALUE).assemble(stack, rootfs, LayerStore.Mode.AUTO, warnings::add)) {
            assertTrue(Files.isRegularFile(rootfs.resolve("d/b")), "a layer's own xattr made a whiteout");
            assertTrue(Files.isRegularFile(rootfs.resolve("d/a")));
        }
        assertTrue(warnings.stream().anyMatch(w -> w.contains("user.overlay.whiteout")), warnings.toString());
    }
}
