package dev.kiln.builder.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.app.cli.BuildCommand;
import dev.kiln.builder.rootfs.DevicePlaceholder;
import dev.kiln.builder.rootfs.LayerExtractor;
import dev.kiln.oci.layer.EntryType;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Hostile build contexts (issue 12): device entries, FIFOs and sockets in an uploaded tar or a
 * context directory. Devices are recorded in the image but never made on the host, nothing special
 * is ever opened, a socket is refused with one line.
 */
class HostileContextTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Far more than these builds take on a loaded machine; a hang is what it catches. */
    private static final Duration HANG = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    @Test
    void devicesInALayerOrContextTarBecomePlaceholdersNotNodes() throws Exception {
        Path tar = contextTar(dir.resolve("ctx.tar"));
        Path out = Files.createDirectories(dir.resolve("out"));
        new LayerExtractor(out, true, w -> { }).apply(tar);
        for (String name : List.of("disk", "tty0")) {
            Path p = out.resolve(name);
            int type = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000;
            assertEquals(0100000, type, name + " must be a regular file, not a device node");
            assertEquals(0, Files.size(p));
        }
        assertEquals(new DevicePlaceholder.Device('b', 7, 0), DevicePlaceholder.read(out.resolve("disk")).orElseThrow());
        assertEquals(new DevicePlaceholder.Device('c', 4, 0), DevicePlaceholder.read(out.resolve("tty0")).orElseThrow());
        assertEquals(0620, (Integer) Files.getAttribute(out.resolve("tty0"), "unix:mode") & 07777);
    }

    @Test
    void devicesAndFifosInAnUploadedContextAreImageEntries() throws Exception {
        Path tar = contextTar(dir.resolve("ctx.tar"));
        Map<String, LayerEntry> entries = build("tar://" + tar, "FROM scratch\nCOPY . /ctx/\n");
        assertEquals(EntryType.BLOCK_DEVICE, entries.get("ctx/disk").type(), entries.toString());
        assertEquals(7, entries.get("ctx/disk").devMajor());
        assertEquals(0, entries.get("ctx/disk").devMinor());
        assertEquals(EntryType.CHAR_DEVICE, entries.get("ctx/tty0").type());
        assertEquals(4, entries.get("ctx/tty0").devMajor());
        assertEquals(0620, entries.get("ctx/tty0").mode() & 07777);
        assertEquals(EntryType.FIFO, entries.get("ctx/pipe").type());
        assertTrue(entries.get("ctx/disk").xattrs() == null || entries.get("ctx/disk").xattrs().isEmpty(),
                "Kiln's marker stays out of the image");
    }

    @Test
    void aFifoInAContextDirectoryNeverHangsCopyOrAdd() throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        exec("mkfifo", ctx.resolve("pipe").toString());
        Map<String, LayerEntry> entries = build(ctx.toString(), "FROM scratch\nCOPY pipe /p\nADD pipe /q\nCOPY . /all/\n");
        assertEquals(EntryType.FIFO, entries.get("p").type(), entries.toString());
        assertEquals(EntryType.FIFO, entries.get("q").type());
        assertEquals(EntryType.FIFO, entries.get("all/pipe").type());
    }

    @Test
    void aDeviceNodeInAContextDirectoryIsNeverRead() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mknod needs root");
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        // the host's /dev/zero: reading it would never end
        exec("mknod", ctx.resolve("zero").toString(), "c", "1", "5");
        Map<String, LayerEntry> entries = build(ctx.toString(), "FROM scratch\nCOPY zero /z\n");
        assertEquals(EntryType.CHAR_DEVICE, entries.get("z").type(), entries.toString());
        assertEquals(1, entries.get("z").devMajor());
        assertEquals(5, entries.get("z").devMinor());
    }

    @Test
    void aSocketInTheContextIsRefusedWithOneLine() throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("Dockerfile"), "FROM scratch\nCOPY . /all/\n");
        try (ServerSocketChannel socket = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            socket.bind(UnixDomainSocketAddress.of(ctx.resolve("agent.sock")));
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            int exit = assertTimeoutPreemptively(HANG, () -> new CommandLine(new BuildCommand(
                    new PrintStream(log, true, StandardCharsets.UTF_8))).execute("-c", ctx.toString(), "--no-push",
                    "--cache-dir", dir.resolve("cache").toString()));
            String text = log.toString(StandardCharsets.UTF_8);
            assertEquals(1, exit, text);
            String last = text.strip().lines().reduce((a, b) -> b).orElse("");
            assertTrue(last.startsWith("error: ") && last.contains("agent.sock is a socket"), text);
        }
    }

    @Test
    void aCancelledBuildStopsCopyingAtTheNextFile() throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx/many"));
        for (int i = 0; i < 200; i++) {
            Files.writeString(ctx.resolve("f" + i), "x");
        }
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        dev.kiln.builder.sandbox.Cancellation cancellation = new dev.kiln.builder.sandbox.Cancellation();
        cancellation.cancel();
        org.junit.jupiter.api.Assertions.assertThrows(java.io.InterruptedIOException.class, () ->
                new ContextCopier(ctx.getParent(), true, dev.kiln.builder.dockerfile.DockerIgnore.of(List.of()),
                        dev.kiln.builder.rootfs.RootfsPath.of(rootfs)).cancelledBy(cancellation)
                        .copy(List.of("many"), "/dst/", null, false));
        try (var copied = Files.list(rootfs)) {
            assertEquals(List.of(), copied.toList(), "nothing copied after the cancel");
        }
    }

    /** Dockerfile, a block device 7:0, a char device 4:0 (0620, gid 5) and a FIFO. */
    private static Path contextTar(Path tar) throws IOException {
        try (OutputStream file = Files.newOutputStream(tar); TarArchiveOutputStream out = new TarArchiveOutputStream(file)) {
            byte[] dockerfile = "FROM scratch\nCOPY . /ctx/\n".getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry d = new TarArchiveEntry("Dockerfile");
            d.setSize(dockerfile.length);
            out.putArchiveEntry(d);
            out.write(dockerfile);
            out.closeArchiveEntry();
            special(out, "disk", TarConstants.LF_BLK, 7, 0, 0660, 0);
            special(out, "tty0", TarConstants.LF_CHR, 4, 0, 0620, 5);
            special(out, "pipe", TarConstants.LF_FIFO, 0, 0, 0644, 0);
        }
        return tar;
    }

    private static void special(TarArchiveOutputStream out, String name, byte flag, int major, int minor, int mode, int gid)
            throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name, flag);
        e.setDevMajor(major);
        e.setDevMinor(minor);
        e.setMode(mode);
        e.setGroupId(gid);
        out.putArchiveEntry(e);
        out.closeArchiveEntry();
    }

    /** Builds with {@code kiln build} into an OCI layout; every entry of every layer by path. */
    private Map<String, LayerEntry> build(String context, String dockerfile) throws Exception {
        Path dockerfilePath = dir.resolve("Dockerfile.test");
        Files.writeString(dockerfilePath, dockerfile);
        Path layout = dir.resolve("layout");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        int exit = assertTimeoutPreemptively(HANG, () -> new CommandLine(new BuildCommand(
                new PrintStream(log, true, StandardCharsets.UTF_8))).execute("-c", context, "-f", dockerfilePath.toString(),
                "--no-push", "--cache-dir", dir.resolve("cache").toString(), "--oci-layout-path", layout.toString()),
                () -> "the build hung: " + log.toString(StandardCharsets.UTF_8));
        assertEquals(0, exit, log.toString(StandardCharsets.UTF_8));
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        JsonNode manifest = JSON.readTree(blob(layout, index.get("manifests").get(0).get("digest").asText()).toFile());
        Map<String, LayerEntry> entries = new HashMap<>();
        for (JsonNode layer : manifest.get("layers")) {
            try (LayerReader reader = LayerReader.open(blob(layout, layer.get("digest").asText()))) {
                for (LayerEntry e; (e = reader.next()) != null; ) {
                    entries.put(e.path().replaceAll("^/|/$", ""), e);
                }
            }
        }
        assertFalse(entries.isEmpty(), "no layer entries");
        return entries;
    }

    private static Path blob(Path layout, String digest) {
        return layout.resolve("blobs/sha256/" + digest.substring("sha256:".length()));
    }

    private static void exec(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", command) + ": " + out);
    }
}
