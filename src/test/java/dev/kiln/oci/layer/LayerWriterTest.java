package dev.kiln.oci.layer;

import static dev.kiln.testkit.Tools.sh;
import static dev.kiln.testkit.Tools.sha256sum;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class LayerWriterTest {
    private static final Instant T = Instant.parse("2024-05-01T10:00:00Z");

    @TempDir
    Path tmp;

    static List<Compression> compressions() {
        return List.of(Compression.none(), Compression.gzip(), Compression.gzip(1), Compression.zstd(), Compression.zstd(19));
    }

    private Path file(String name, String content) throws IOException {
        Path p = tmp.resolve("src").resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
        return p;
    }

    private List<LayerEntry> everyKind() throws IOException {
        return List.of(
                LayerEntry.directory("usr").withMtime(T),
                LayerEntry.directory("usr/bin").withMode(0755).withOwner(0, 0).withMtime(T),
                LayerEntry.file("usr/bin/tool", file("tool", "#!/bin/sh\necho hi\n")).withMode(04755).withMtime(T),
                LayerEntry.file("usr/bin/group", file("group", "g")).withMode(02711).withOwner(1000, 1001).withMtime(T),
                LayerEntry.directory("tmp").withMode(01777).withMtime(T),
                LayerEntry.symlink("usr/bin/alias", "../lib/x/../tool").withMtime(T),
                LayerEntry.hardlink("usr/bin/tool2", "usr/bin/tool").withMtime(T),
                LayerEntry.emptyFile("etc/empty").withMtime(T),
                LayerEntry.whiteout("etc/gone"),
                LayerEntry.opaque("var/cache"),
                LayerEntry.charDevice("dev/null", 1, 3).withMtime(T),
                LayerEntry.blockDevice("dev/loop0", 7, 0).withMtime(T),
                LayerEntry.fifo("run/pipe").withMtime(T),
                LayerEntry.file("etc/tagged", file("tagged", "x"))
                        .withXattrs(Map.of("user.mime", "text/plain".getBytes(StandardCharsets.UTF_8))).withMtime(T));
    }

    private static List<LayerEntry> readAll(Path layer, Map<String, byte[]> contents) throws IOException {
        List<LayerEntry> out = new ArrayList<>();
        try (LayerReader reader = LayerReader.open(layer)) {
            for (LayerEntry e; (e = reader.next()) != null; ) {
                out.add(e);
                contents.put(e.path(), reader.content().readAllBytes());
            }
        }
        return out;
    }

    private static LayerEntry find(List<LayerEntry> entries, String path) {
        return entries.stream().filter(e -> e.path().equals(path)).findFirst()
                .orElseThrow(() -> new AssertionError("no entry " + path + " in " + entries));
    }

    @ParameterizedTest
    @MethodSource("compressions")
    void everyKindOfEntryRoundTrips(Compression compression) throws IOException {
        Path layer = tmp.resolve("layer");
        WrittenLayer written = new LayerWriter(compression, MtimePolicy.keep()).write(everyKind(), layer);

        Map<String, byte[]> contents = new java.util.HashMap<>();
        List<LayerEntry> read = readAll(layer, contents);
        try (LayerReader reader = LayerReader.open(layer)) {
            assertEquals(compression.algorithm(), reader.compression());
        }
        assertEquals(written.entries(), read.size());

        LayerEntry tool = find(read, "usr/bin/tool");
        assertEquals(EntryType.FILE, tool.type());
        assertEquals(04755, tool.mode());
        assertEquals(T, tool.mtime());
        assertEquals("#!/bin/sh\necho hi\n", new String(contents.get("usr/bin/tool"), StandardCharsets.UTF_8));
        LayerEntry group = find(read, "usr/bin/group");
        assertEquals(02711, group.mode());
        assertEquals(1000, group.uid());
        assertEquals(1001, group.gid());
        assertEquals(01777, find(read, "tmp").mode());
        assertEquals(EntryType.DIRECTORY, find(read, "tmp").type());
        assertEquals("../lib/x/../tool", find(read, "usr/bin/alias").linkTarget());
        assertEquals(EntryType.HARDLINK, find(read, "usr/bin/tool2").type());
        assertEquals("usr/bin/tool", find(read, "usr/bin/tool2").linkTarget());
        assertTrue(find(read, "etc/.wh.gone").isWhiteout());
        assertTrue(find(read, "var/cache/.wh..wh..opq").isOpaqueMarker());
        LayerEntry nul = find(read, "dev/null");
        assertEquals(EntryType.CHAR_DEVICE, nul.type());
        assertEquals(List.of(1, 3), List.of(nul.devMajor(), nul.devMinor()));
        assertEquals(EntryType.BLOCK_DEVICE, find(read, "dev/loop0").type());
        assertEquals(EntryType.FIFO, find(read, "run/pipe").type());
        assertArrayEquals("text/plain".getBytes(StandardCharsets.UTF_8), find(read, "etc/tagged").xattrs().get("user.mime"));
        // parents the caller left out were added as directories
        for (String parent : List.of("etc", "var", "var/cache", "dev", "run")) {
            assertEquals(EntryType.DIRECTORY, find(read, parent).type(), parent);
        }
    }

    @Test
    void entriesAreSortedDepthFirstWithParentsBeforeChildrenAndOpaqueMarkersFirst() throws IOException {
        List<LayerEntry> entries = List.of(
                LayerEntry.emptyFile("b/z"),
                LayerEntry.emptyFile("a-b"),
                LayerEntry.emptyFile("a/b/c"),
                LayerEntry.emptyFile("a/a"),
                LayerEntry.opaque("a"),
                LayerEntry.whiteout("a/0"));
        Path layer = tmp.resolve("sorted.tar");
        new LayerWriter(Compression.none(), MtimePolicy.keep()).write(entries, layer);
        List<String> names = readAll(layer, new java.util.HashMap<>()).stream().map(LayerEntry::path).toList();
        assertEquals(List.of("a", "a/.wh..wh..opq", "a/.wh.0", "a/a", "a/b", "a/b/c", "a-b", "b", "b/z"), names);
    }

    @Test
    void aHardlinkSortedBeforeItsTargetCarriesTheContentInstead() throws IOException {
        Path layer = tmp.resolve("links.tar");
        new LayerWriter(Compression.none(), MtimePolicy.keep()).write(List.of(
                LayerEntry.file("z/file", file("f", "shared")).withMode(0600),
                LayerEntry.hardlink("a/link", "z/file"),
                LayerEntry.hardlink("m/link", "a/link")), layer);
        Map<String, byte[]> contents = new java.util.HashMap<>();
        List<LayerEntry> read = readAll(layer, contents);
        assertEquals(EntryType.FILE, find(read, "a/link").type());
        assertEquals(0600, find(read, "a/link").mode());
        assertEquals("shared", new String(contents.get("a/link"), StandardCharsets.UTF_8));
        assertEquals("a/link", find(read, "m/link").linkTarget());
        assertEquals("a/link", find(read, "z/file").linkTarget());
        // GNU tar agrees the archive is consistent: it extracts all three names as one inode
        Path out = Files.createDirectory(tmp.resolve("x"));
        sh("tar -xf " + layer + " -C " + out);
        assertEquals(Files.getAttribute(out.resolve("a/link"), "unix:ino"), Files.getAttribute(out.resolve("z/file"), "unix:ino"));
        assertEquals(Files.getAttribute(out.resolve("a/link"), "unix:ino"), Files.getAttribute(out.resolve("m/link"), "unix:ino"));
    }

    @Test
    void theSameTreeWithDifferentMtimesAboveTheEpochGivesTheSameDigests() throws IOException {
        Instant epoch = Instant.parse("2020-01-01T00:00:00Z");
        for (Compression compression : List.of(Compression.gzip(), Compression.zstd(), Compression.none())) {
            WrittenLayer first = LayerWriter.reproducible(compression, epoch).write(tree("one", T), tmp.resolve("r1"));
            WrittenLayer second = LayerWriter.reproducible(compression, epoch)
                    .write(tree("two", T.plusSeconds(86_400 * 30)), tmp.resolve("r2"));
            assertEquals(first, second, compression.toString());
            assertArrayEquals(Files.readAllBytes(tmp.resolve("r1")), Files.readAllBytes(tmp.resolve("r2")));

            // without clamping the times show, so the comparison above could fail
            WrittenLayer kept1 = new LayerWriter(compression, MtimePolicy.keep()).write(tree("one", T), tmp.resolve("k1"));
            WrittenLayer kept2 = new LayerWriter(compression, MtimePolicy.keep()).write(tree("two", T.plusSeconds(60)), tmp.resolve("k2"));
            assertNotEquals(kept1.diffId(), kept2.diffId());
        }
    }

    @Test
    void clampKeepsOlderTimesAndSetReplacesAll() throws IOException {
        Instant epoch = Instant.parse("2020-01-01T00:00:00Z");
        Instant old = Instant.parse("2010-06-01T12:00:00Z");
        List<LayerEntry> entries = List.of(LayerEntry.emptyFile("old").withMtime(old), LayerEntry.emptyFile("new").withMtime(T.plusNanos(5)));
        new LayerWriter(Compression.none(), MtimePolicy.clampTo(epoch)).write(entries, tmp.resolve("c.tar"));
        List<LayerEntry> clamped = readAll(tmp.resolve("c.tar"), new java.util.HashMap<>());
        assertEquals(old, find(clamped, "old").mtime());
        assertEquals(epoch, find(clamped, "new").mtime());
        new LayerWriter(Compression.none(), MtimePolicy.setTo(Instant.EPOCH)).write(entries, tmp.resolve("s.tar"));
        List<LayerEntry> set = readAll(tmp.resolve("s.tar"), new java.util.HashMap<>());
        assertEquals(Instant.EPOCH, find(set, "old").mtime());
        assertEquals(Instant.EPOCH, find(set, "new").mtime());
    }

    /** The same files under different source paths, written in a different list order. */
    private List<LayerEntry> tree(String variant, Instant mtime) throws IOException {
        List<LayerEntry> entries = new ArrayList<>(List.of(
                LayerEntry.directory("app").withMtime(mtime),
                LayerEntry.file("app/main", file(variant + "/main", "main body")).withMtime(mtime).withMode(0755),
                LayerEntry.file("app/conf/settings", file(variant + "/settings", "k=v")).withMtime(mtime),
                LayerEntry.symlink("app/current", "main").withMtime(mtime),
                LayerEntry.hardlink("app/main2", "app/main")));
        if (variant.equals("two")) {
            java.util.Collections.reverse(entries);
        }
        return entries;
    }

    @ParameterizedTest
    @MethodSource("compressions")
    void digestAndDiffIdMatchTheReferenceTools(Compression compression) throws IOException {
        Path layer = tmp.resolve("layer.bin");
        WrittenLayer written = new LayerWriter(compression, MtimePolicy.keep()).write(everyKind(), layer);
        assertEquals(Files.size(layer), written.size());
        assertEquals("sha256:" + sha256sum(layer), written.digest().toString());
        String decompress = switch (compression.algorithm()) {
            case GZIP -> "gzip -dc";
            case ZSTD -> "zstd -dc";
            case NONE -> "cat";
        };
        String diffId = sh(decompress + " " + layer + " | sha256sum").split("\\s+")[0];
        assertEquals("sha256:" + diffId, written.diffId().toString());
        String length = sh(decompress + " " + layer + " | wc -c").trim();
        assertEquals(Long.parseLong(length), written.uncompressedSize());
        if (compression.algorithm() == Compression.Algorithm.NONE) {
            assertEquals(written.digest(), written.diffId());
        }
        assertEquals(compression.mediaType(), written.descriptor().mediaType());
    }

    @Test
    void gnuTarListsLongNamesLinksSetuidModesAndNumericOwners() throws IOException {
        String longDir = "d".repeat(60) + "/" + "e".repeat(60);
        String longName = longDir + "/" + "f".repeat(90);
        assertTrue(longName.length() > 200);
        Path layer = tmp.resolve("gnu.tar.gz");
        new LayerWriter(Compression.gzip(), MtimePolicy.keep()).write(List.of(
                LayerEntry.file(longName, file("long", "long")).withOwner(1000, 1000).withMtime(T),
                LayerEntry.file("bin/su", file("su", "su")).withMode(04755).withMtime(T),
                LayerEntry.symlink("bin/long-link", "/" + longName).withMtime(T),
                LayerEntry.hardlink("bin/su-again", "bin/su").withMtime(T),
                LayerEntry.directory("tmp").withMode(01777).withMtime(T)), layer);

        String listing = sh("tar --numeric-owner -tvzf " + layer);
        List<String> lines = listing.lines().toList();
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("-rw-r--r-- 1000/1000") && l.endsWith(" " + longName)), listing);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("-rwsr-xr-x 0/0") && l.endsWith(" bin/su")), listing);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("lrwxrwxrwx") && l.endsWith(" bin/long-link -> /" + longName)), listing);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("hrwsr-xr-x") && l.endsWith(" bin/su-again link to bin/su")), listing);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("drwxrwxrwt") && l.endsWith(" tmp/")), listing);
        // parents the writer added carry the policy's synthetic time, the rest their own
        assertTrue(lines.stream().allMatch(l -> l.contains(" 2024-05-01 ") || l.contains(" 1970-01-01 00:00 ") && l.endsWith("/")), listing);
        // no user or group names in the headers: without --numeric-owner tar still shows ids
        assertEquals(listing, sh("tar -tvzf " + layer));
    }

    @Test
    void gnuTarRestoresOurXattrs() throws IOException {
        Path layer = tmp.resolve("x.tar");
        new LayerWriter(Compression.none(), MtimePolicy.keep()).write(List.of(
                LayerEntry.file("f", file("xf", "x")).withXattrs(Map.of("user.note", "héllo".getBytes(StandardCharsets.UTF_8)))), layer);
        assertTrue(sh("tar --xattrs -tvvf " + layer + " 2>&1 || true").contains("f"));
        Path out = Files.createDirectory(tmp.resolve("xo"));
        sh("tar --xattrs --xattrs-include='user.*' -xf " + layer + " -C " + out);
        String value = sh("python3 -c \"import os,sys; sys.stdout.write(os.getxattr('" + out.resolve("f") + "','user.note').decode())\"");
        assertEquals("héllo", value);
    }

    @Test
    void refusesNamesWithDotDotDuplicatesAndChildrenOfFiles() {
        LayerWriter writer = new LayerWriter(Compression.none(), MtimePolicy.keep());
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        assertThrows(IllegalArgumentException.class, () -> writer.write(List.of(LayerEntry.emptyFile("a/../../x")), sink));
        assertThrows(IllegalArgumentException.class, () -> writer.write(List.of(LayerEntry.hardlink("a", "../etc/passwd")), sink));
        assertThrows(IllegalArgumentException.class, () -> writer.write(List.of(LayerEntry.emptyFile("a"), LayerEntry.emptyFile("/a")), sink));
        assertThrows(IllegalArgumentException.class, () -> writer.write(List.of(LayerEntry.emptyFile("a"), LayerEntry.emptyFile("a/b")), sink));
        assertThrows(IllegalArgumentException.class, () -> writer.write(List.of(LayerEntry.symlink("a", "/"), LayerEntry.emptyFile("a/b")), sink));
        assertThrows(IllegalArgumentException.class, () -> writer.write(List.of(LayerEntry.directory("d"), LayerEntry.hardlink("l", "d")), sink));
    }

    @Test
    void refusesBinaryXattrValuesItCannotCarryExactly() {
        LayerWriter writer = new LayerWriter(Compression.none(), MtimePolicy.keep());
        LayerEntry entry = LayerEntry.emptyFile("ping").withXattrs(Map.of("security.capability", new byte[] {1, 0, 0, 2, (byte) 0x80, 0x20}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> writer.write(List.of(entry), new ByteArrayOutputStream()));
        assertTrue(e.getMessage().contains("security.capability"), e.getMessage());
    }

    @Test
    void aFileThatChangedSizeSinceItWasListedIsAnError() throws IOException {
        Path grown = file("grown", "12345");
        LayerEntry entry = LayerEntry.file("g", grown, 3);
        IOException e = assertThrows(IOException.class,
                () -> new LayerWriter(Compression.none(), MtimePolicy.keep()).write(List.of(entry), new ByteArrayOutputStream()));
        assertTrue(e.getMessage().contains("grew"), e.getMessage());
        LayerEntry shrunk = LayerEntry.file("s", grown, 9);
        e = assertThrows(IOException.class,
                () -> new LayerWriter(Compression.none(), MtimePolicy.keep()).write(List.of(shrunk), new ByteArrayOutputStream()));
        assertTrue(e.getMessage().contains("shrank"), e.getMessage());
    }

    @Test
    void anEmptyLayerIsTwoZeroRecords() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        WrittenLayer written = new LayerWriter(Compression.none(), MtimePolicy.keep()).write(List.of(), out);
        assertEquals(0, written.entries());
        assertEquals(1024, out.size());
    }
}
