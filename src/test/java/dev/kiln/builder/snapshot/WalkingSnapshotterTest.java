package dev.kiln.builder.snapshot;

import static dev.kiln.testing.Commands.isRoot;
import static dev.kiln.testing.Commands.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.oci.layer.Compression;
import dev.kiln.oci.layer.EntryType;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerReader;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.MtimePolicy;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WalkingSnapshotterTest {
    @TempDir
    Path rootfs;
    WalkingSnapshotter snapshotter;
    final List<String> warnings = new ArrayList<>();

    @BeforeEach
    void baseTree() throws IOException {
        sh("cd " + rootfs + " && mkdir -p etc bin d/c home/user var proc/1 kiln"
                + " && printf conf > etc/conf && printf old > etc/old && ln -s conf etc/link"
                + " && printf tool > bin/tool && printf a > d/a && printf b > d/b && printf x > d/c/x"
                + " && printf mine > home/user/file");
        snapshotter = WalkingSnapshotter.startingNow(rootfs, new TreeScanner(Set.of("proc", "/kiln")),
                new LayerWriter(Compression.none(), MtimePolicy.keep()), warnings::add);
    }

    private record Snap(SnapshotLayer result, List<LayerEntry> entries) {
        List<String> names() {
            return entries.stream().map(e -> e.type() + " " + e.path() + (e.linkTarget() == null ? "" : " -> " + e.linkTarget())).toList();
        }

        LayerEntry get(String path) {
            return entries.stream().filter(e -> e.path().equals(path)).findFirst().orElseThrow();
        }
    }

    private Snap snap() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SnapshotLayer result = snapshotter.snapshot(out);
        List<LayerEntry> entries = new ArrayList<>();
        try (LayerReader reader = LayerReader.open(new ByteArrayInputStream(out.toByteArray()))) {
            for (LayerEntry e; (e = reader.next()) != null; ) {
                entries.add(e);
            }
        }
        assertEquals(result.layer().entries(), entries.size());
        return new Snap(result, entries);
    }

    @Test
    void anUnchangedTreeGivesAnEmptyChangeSet() throws IOException {
        Snap s = snap();
        assertTrue(s.result().isEmpty(), s.result().changes().toString());
        assertEquals(List.of(), s.entries());
    }

    @Test
    void anAddedFileComesWithItsParent() throws IOException {
        Files.writeString(rootfs.resolve("etc/new"), "new");
        assertEquals(List.of("DIRECTORY etc", "FILE etc/new"), snap().names());
        assertTrue(snap().result().isEmpty(), "the next snapshot starts from the new state");
    }

    @Test
    void aModifiedFileOfTheSameSizeIsFoundAndItsParentIncluded() throws IOException {
        FileTime before = Files.getLastModifiedTime(rootfs.resolve("etc/conf"));
        Files.writeString(rootfs.resolve("etc/conf"), "CONF");
        Files.setLastModifiedTime(rootfs.resolve("etc/conf"), before); // only ctime still shows it
        Snap s = snap();
        assertEquals(List.of("DIRECTORY etc", "FILE etc/conf"), s.names());
        assertEquals(4, s.get("etc/conf").size());
    }

    @Test
    void aDeletedFileBecomesAWhiteout() throws IOException {
        Files.delete(rootfs.resolve("etc/old"));
        assertEquals(List.of("DIRECTORY etc", "FILE etc/.wh.old"), snap().names());
    }

    @Test
    void aDeletedDirectoryIsOneWhiteout() throws IOException {
        sh("rm -r " + rootfs.resolve("d/c"));
        assertEquals(List.of("DIRECTORY d", "FILE d/.wh.c"), snap().names());
    }

    @Test
    void chmodIsAChange() throws IOException {
        Files.setAttribute(rootfs.resolve("bin/tool"), "unix:mode", 04750);
        Snap s = snap();
        assertEquals(List.of("DIRECTORY bin", "FILE bin/tool"), s.names());
        assertEquals(04750, s.get("bin/tool").mode());
    }

    @Test
    void chownIsAChange() throws IOException {
        assumeTrue(isRoot());
        Files.setAttribute(rootfs.resolve("home/user/file"), "unix:uid", 1000);
        Files.setAttribute(rootfs.resolve("home/user/file"), "unix:gid", 1000);
        Snap s = snap();
        assertEquals(List.of("DIRECTORY home", "DIRECTORY home/user", "FILE home/user/file"), s.names());
        assertEquals(1000, s.get("home/user/file").uid());
        assertEquals(1000, s.get("home/user/file").gid());
    }

    @Test
    void aRetargetedSymlinkIsRewritten() throws IOException {
        Files.delete(rootfs.resolve("etc/link"));
        Files.createSymbolicLink(rootfs.resolve("etc/link"), Path.of("/etc/old"));
        assertEquals(List.of("DIRECTORY etc", "SYMLINK etc/link -> /etc/old"), snap().names());
    }

    @Test
    void aDirectoryReplacedWholesaleIsOpaque() throws IOException {
        sh("rm -rf " + rootfs.resolve("d") + " && mkdir " + rootfs.resolve("d") + " && printf n > " + rootfs.resolve("d/new"));
        assertEquals(List.of("DIRECTORY d", "FILE d/.wh..wh..opq", "FILE d/new"), snap().names());
    }

    @Test
    void aDirectoryEmptiedInPlaceIsOpaqueToo() throws IOException {
        sh("rm -rf " + rootfs.resolve("d") + "/*");
        assertEquals(List.of("DIRECTORY d", "FILE d/.wh..wh..opq"), snap().names());
    }

    @Test
    void aDirectoryKeepingSomeEntriesGetsIndividualWhiteouts() throws IOException {
        sh("rm -rf " + rootfs.resolve("d/a") + " " + rootfs.resolve("d/c"));
        assertEquals(List.of("DIRECTORY d", "FILE d/.wh.a", "FILE d/.wh.c"), snap().names());
    }

    @Test
    void aFileReplacingADirectoryNeedsNoWhiteoutsForTheOldContent() throws IOException {
        sh("rm -rf " + rootfs.resolve("d") + " && printf file > " + rootfs.resolve("d"));
        assertEquals(List.of("FILE d"), snap().names());
    }

    @Test
    void aDirectoryReplacingAFileComesWithItsContent() throws IOException {
        sh("rm " + rootfs.resolve("etc/conf") + " && mkdir " + rootfs.resolve("etc/conf") + " && printf x > " + rootfs.resolve("etc/conf/x"));
        assertEquals(List.of("DIRECTORY etc", "DIRECTORY etc/conf", "FILE etc/conf/x"), snap().names());
    }

    @Test
    void hardlinksWithinTheLayerAreTarHardlinks() throws IOException {
        Files.createLink(rootfs.resolve("bin/tool2"), rootfs.resolve("bin/tool"));
        Files.createDirectories(rootfs.resolve("a"));
        Files.writeString(rootfs.resolve("var/z"), "zz");
        Files.createLink(rootfs.resolve("a/first"), rootfs.resolve("var/z"));
        Snap s = snap();
        assertEquals(List.of("DIRECTORY a", "FILE a/first", "DIRECTORY bin", "FILE bin/tool", "HARDLINK bin/tool2 -> bin/tool",
                "DIRECTORY var", "HARDLINK var/z -> a/first"), s.names());
        assertEquals(2, s.get("a/first").size());
    }

    @Test
    void ignoredPathsNeverShowUp() throws IOException {
        Files.writeString(rootfs.resolve("proc/1/status"), "x");
        Files.writeString(rootfs.resolve("kiln/build.log"), "x");
        assertTrue(snap().result().isEmpty());
    }

    @Test
    void aFreshBaselineMakesALayerOfTheWholeTree() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        WalkingSnapshotter.Taken taken = snapshotter.take(FileSnapshot.empty(), out);
        assertEquals(List.of("bin", "bin/tool", "d", "d/a", "d/b", "d/c", "d/c/x", "etc", "etc/conf", "etc/link", "etc/old",
                "home", "home/user", "home/user/file", "var"), taken.layer().changes().changed());
        assertEquals(15, taken.layer().layer().entries());
        assertEquals(15, taken.snapshot().size());
    }

    @Test
    void twentyThousandFilesWithOneChangeCostAStatWalk() throws IOException {
        for (int dir = 0; dir < 100; dir++) {
            Path d = Files.createDirectories(rootfs.resolve("big/d" + dir));
            for (int file = 0; file < 200; file++) {
                Files.writeString(d.resolve("f" + file), "content " + dir + "/" + file);
            }
        }
        long t0 = System.nanoTime();
        Snap first = snap();
        long t1 = System.nanoTime();
        Files.writeString(rootfs.resolve("big/d42/f7"), "changed!");
        Snap second = snap();
        long t2 = System.nanoTime();
        Snap third = snap();
        long t3 = System.nanoTime();
        assertEquals(20_101, first.entries().size());
        assertEquals(List.of("DIRECTORY big", "DIRECTORY big/d42", "FILE big/d42/f7"), second.names());
        assertTrue(third.result().isEmpty());
        System.out.printf("walking snapshot of %d paths: first (adds all, hashes racy) %d ms, one change %d ms, unchanged %d ms%n",
                snapshotter.previous().size(), (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000, (t3 - t2) / 1_000_000);
    }

    @Test
    void theLayerWritesFilesWithTheirContentAndMetadata() throws IOException {
        Files.writeString(rootfs.resolve("etc/new"), "hello");
        Files.setAttribute(rootfs.resolve("etc/new"), "unix:mode", 0640);
        Snap s = snap();
        LayerEntry e = s.get("etc/new");
        assertEquals(EntryType.FILE, e.type());
        assertEquals(0640, e.mode());
        assertEquals(Files.getLastModifiedTime(rootfs.resolve("etc/new")).toInstant().getEpochSecond(), e.mtime().getEpochSecond());
        assertFalse(s.result().layer().diffId().toString().isEmpty());
    }
}
