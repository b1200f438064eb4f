package dev.kiln.builder.snapshot;

import static dev.kiln.testing.Commands.isRoot;
import static dev.kiln.testing.Commands.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.builder.rootfs.LayerExtractor;
import dev.kiln.oci.layer.Compression;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.MtimePolicy;
import dev.kiln.oci.layer.WrittenLayer;
import dev.kiln.testing.Commands;
import dev.kiln.testing.TreeDescription;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole filesystem half of a build: unpack a busybox base, snapshot, change it with busybox itself, snapshot again. */
class BusyboxLayersTest {
    private static final Path BUSYBOX = Path.of("/bin/busybox");
    private static final Pattern LISTING = Pattern.compile("^(\\S+)\\s+\\S+\\s+\\d+\\s+\\S+\\s+\\S+\\s+(.*)$");

    @TempDir
    Path tmp;

    /** GNU tar's listing reduced to mode and name (with link), one line per entry. */
    private static List<String> gnuTarList(Path layer) {
        List<String> out = new ArrayList<>();
        for (String line : sh("tar -tvzf " + layer).lines().toList()) {
            Matcher m = LISTING.matcher(line);
            assertTrue(m.matches(), line);
            out.add(m.group(1) + " " + m.group(2));
        }
        return out;
    }

    @Test
    void baseLayerThenARunStepGiveTheLayersGnuTarExpects() throws IOException {
        assumeTrue(Files.isRegularFile(BUSYBOX), "needs busybox-static");
        Path passwd = Files.writeString(tmp.resolve("passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        List<LayerEntry> base = new ArrayList<>(List.of(
                LayerEntry.file("bin/busybox", BUSYBOX).withMode(0755),
                LayerEntry.hardlink("usr/bin/env", "bin/busybox"),
                LayerEntry.file("etc/passwd", passwd),
                LayerEntry.directory("tmp").withMode(01777)));
        for (String applet : List.of("sh", "ls", "cat", "rm", "echo", "chmod", "mkdir", "ln")) {
            base.add(LayerEntry.symlink("bin/" + applet, "busybox"));
        }
        Instant epoch = Instant.parse("2024-01-01T00:00:00Z");
        Path baseLayer = tmp.resolve("base.tar.gz");
        LayerWriter.reproducible(Compression.gzip(), epoch).write(base.stream().map(e -> e.withMtime(epoch.minusSeconds(3600))).toList(), baseLayer);

        Path rootfs = Files.createDirectory(tmp.resolve("rootfs"));
        new LayerExtractor(rootfs, isRoot(), w -> { }).apply(baseLayer);

        LayerWriter writer = new LayerWriter(Compression.gzip(), MtimePolicy.keep());
        WalkingSnapshotter snapshotter = new WalkingSnapshotter(rootfs, TreeScanner.withDefaults(), writer, FileSnapshot.empty(), w -> { });
        Path layer1 = tmp.resolve("layer1.tar.gz");
        WalkingSnapshotter.Taken first;
        try (OutputStream out = Files.newOutputStream(layer1)) {
            first = snapshotter.take(FileSnapshot.empty(), out);
        }
        List<String> expectedBase = new ArrayList<>(List.of("drwxr-xr-x bin/", "-rwxr-xr-x bin/busybox"));
        for (String applet : List.of("cat", "chmod", "echo", "ln", "ls", "mkdir", "rm", "sh")) {
            expectedBase.add("lrwxrwxrwx bin/" + applet + " -> busybox");
        }
        expectedBase.addAll(List.of("drwxr-xr-x etc/", "-rw-r--r-- etc/passwd", "drwxrwxrwt tmp/", "drwxr-xr-x usr/", "drwxr-xr-x usr/bin/",
                "hrwxr-xr-x usr/bin/env link to bin/busybox"));
        assertEquals(expectedBase, gnuTarList(layer1));

        // a RUN step, by the rootfs's own busybox (no chroot needed for relative paths)
        Commands.run(rootfs, List.of(rootfs.resolve("bin/busybox").toString(), "sh", "-c",
                "echo hello > etc/motd && rm bin/cat && chmod 4755 bin/busybox && mkdir -p var/log && ln -s /bin/ls bin/dir"));
        Path layer2 = tmp.resolve("layer2.tar.gz");
        WalkingSnapshotter.Taken second;
        try (OutputStream out = Files.newOutputStream(layer2)) {
            second = snapshotter.take(first.snapshot(), out);
        }
        assertEquals(List.of(
                "drwxr-xr-x bin/",
                "---------- bin/.wh.cat",
                "-rwsr-xr-x bin/busybox",
                "lrwxrwxrwx bin/dir -> /bin/ls",
                "drwxr-xr-x etc/",
                "-rw-r--r-- etc/motd",
                "drwxr-xr-x usr/",
                "drwxr-xr-x usr/bin/",
                "hrwsr-xr-x usr/bin/env link to bin/busybox",
                "drwxr-xr-x var/",
                "drwxr-xr-x var/log/"), gnuTarList(layer2));
        WrittenLayer written = second.layer().layer();
        assertEquals("sha256:" + Commands.sha256sum(layer2), written.digest().toString());

        // the two layers rebuild the same tree elsewhere
        Path replay = Files.createDirectory(tmp.resolve("replay"));
        LayerExtractor extractor = new LayerExtractor(replay, isRoot(), w -> { });
        extractor.apply(layer1);
        extractor.apply(layer2);
        assertEquals(TreeDescription.describe(rootfs), TreeDescription.describe(replay));
    }
}
