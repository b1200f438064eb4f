package dev.kiln.builder.rootfs;

import static dev.kiln.testing.Commands.isRoot;
import static dev.kiln.testing.Commands.sh;

import dev.kiln.testing.TreeDescription;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerExtractorTest {
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    @TempDir
    Path tmp;
    Path rootfs;
    /** A sibling of the rootfs standing in for the host: no layer may touch it. */
    Path host;
    Map<String, String> hostBefore;
    final List<String> warnings = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        rootfs = Files.createDirectory(tmp.resolve("rootfs"));
        host = Files.createDirectory(tmp.resolve("host"));
        Files.writeString(host.resolve("secret"), "host secret");
        Files.createDirectory(host.resolve("etc"));
        Files.writeString(host.resolve("etc/passwd"), "root:x:0:0");
        hostBefore = snapshot(host);
    }

    @AfterEach
    void hostIsUntouched() throws IOException {
        assertEquals(hostBefore, snapshot(host), "the host canary changed");
    }

    private static Map<String, String> snapshot(Path dir) throws IOException {
        Map<String, String> state = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                String content = Files.isRegularFile(p, NOFOLLOW) ? Files.readString(p) : "";
                state.put(dir.relativize(p).toString(), content + " nlink=" + Files.getAttribute(p, "unix:nlink", NOFOLLOW)
                        + " mode=" + Integer.toOctalString((Integer) Files.getAttribute(p, "unix:mode", NOFOLLOW)));
            }
        }
        return state;
    }

    private Extraction apply(RawTar tar) throws IOException {
        return new LayerExtractor(rootfs, isRoot(), warnings::add).apply(tar.stream());
    }

    private String read(String path) throws IOException {
        return Files.readString(rootfs.resolve(path));
    }

    private int mode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode", NOFOLLOW) & 07777;
    }

    // --- ordinary content ---------------------------------------------------------------------

    @Test
    void appliesFilesDirectoriesSymlinksAndHardlinksWithTheirMetadata() throws IOException {
        apply(new RawTar()
                .dir("usr", 0755)
                .dir("usr/bin", 0711)
                .file("usr/bin/su", "su", 04755, 0, 0)
                .file("usr/bin/wall", "wall", 02755, 0, 5)
                .file("home/me/notes", "mine", 0600, 1000, 1000)
                .symlink("usr/bin/sh", "/bin/busybox")
                .hardlink("usr/bin/su2", "usr/bin/su")
                .dir("tmp", 01777));
        assertEquals("su", read("usr/bin/su"));
        assertEquals("mine", read("home/me/notes"));
        assertEquals(0711, mode(rootfs.resolve("usr/bin")));
        assertEquals(01777, mode(rootfs.resolve("tmp")));
        assertEquals(04755, mode(rootfs.resolve("usr/bin/su")));
        assertEquals(02755, mode(rootfs.resolve("usr/bin/wall")));
        assertEquals(0600, mode(rootfs.resolve("home/me/notes")));
        assertEquals("/bin/busybox", Files.readSymbolicLink(rootfs.resolve("usr/bin/sh")).toString());
        assertEquals(Files.getAttribute(rootfs.resolve("usr/bin/su"), "unix:ino"), Files.getAttribute(rootfs.resolve("usr/bin/su2"), "unix:ino"));
        Instant expected = Instant.parse("2023-03-04T05:06:07Z");
        assertEquals(expected, Files.getLastModifiedTime(rootfs.resolve("usr/bin/su")).toInstant());
        assertEquals(expected, Files.getLastModifiedTime(rootfs.resolve("usr/bin"), NOFOLLOW).toInstant(), "directory times are set after their children");
        assertEquals(expected, Files.getLastModifiedTime(rootfs.resolve("usr/bin/sh"), NOFOLLOW).toInstant());
        if (isRoot()) {
            assertEquals(1000, Files.getAttribute(rootfs.resolve("home/me/notes"), "unix:uid"));
            assertEquals(1000, Files.getAttribute(rootfs.resolve("home/me/notes"), "unix:gid"));
            assertEquals(5, Files.getAttribute(rootfs.resolve("usr/bin/wall"), "unix:gid"));
        }
    }

    @Test
    void ownersAreKeptAsTheExtractingUserWhenUnprivileged() throws IOException {
        assumeTrue(isRoot(), "checks that a privileged run would have chowned");
        new LayerExtractor(rootfs, false, warnings::add).apply(new RawTar().file("f", "x", 0644, 1000, 1000).stream());
        assertEquals(0, Files.getAttribute(rootfs.resolve("f"), "unix:uid"));
    }

    @Test
    void devicesBecomePlaceholdersNeverNodesFifosAreMade() throws IOException {
        for (boolean privileged : new boolean[] {true, false}) {
            Path root = Files.createDirectory(tmp.resolve("root-" + privileged));
            Extraction result = new LayerExtractor(root, privileged, warnings::add).apply(new RawTar()
                    .device("dev/null", TarConstants.LF_CHR, 1, 3)
                    .device("dev/loop9", TarConstants.LF_BLK, 7, 9)
                    .device("run/pipe", TarConstants.LF_FIFO, 0, 0).stream());
            assertEquals(0, result.skipped());
            assertTrue(sh("ls -l " + root.resolve("dev/null")).startsWith("-rw-rw-rw- 1 "), "a regular file");
            assertTrue(sh("ls -l " + root.resolve("dev/loop9")).startsWith("-rw-rw-rw- 1 "));
            assertEquals(new DevicePlaceholder.Device('c', 1, 3), DevicePlaceholder.read(root.resolve("dev/null")).orElseThrow());
            assertEquals(new DevicePlaceholder.Device('b', 7, 9), DevicePlaceholder.read(root.resolve("dev/loop9")).orElseThrow());
            assertEquals(Instant.parse("2023-03-04T05:06:07Z"), Files.getLastModifiedTime(root.resolve("dev/loop9"), NOFOLLOW).toInstant());
            assertTrue(sh("ls -l " + root.resolve("run/pipe")).startsWith("prw-rw-rw-"));
            assertEquals(Instant.parse("2023-03-04T05:06:07Z"), Files.getLastModifiedTime(root.resolve("run/pipe"), NOFOLLOW).toInstant());
        }
    }

    @Test
    void userXattrsAreSetAndOtherNamespacesReported() throws IOException {
        Path layer = tmp.resolve("x.tar");
        Path src = Files.createDirectory(tmp.resolve("xsrc"));
        Files.writeString(src.resolve("f"), "x");
        sh("python3 -c \"import os; os.setxattr('" + src.resolve("f") + "','user.colour',b'blue'); os.setxattr('" + src.resolve("f") + "','trusted.k',b'v')\"");
        sh("tar --format=pax --xattrs --xattrs-include='*' -C " + src + " -cf " + layer + " f");
        Extraction result = new LayerExtractor(rootfs, isRoot(), warnings::add).apply(layer);
        assertEquals("blue", sh("python3 -c \"import os,sys; sys.stdout.write(os.getxattr('" + rootfs.resolve("f") + "','user.colour').decode())\""));
        assertEquals(1, result.skipped());
        assertTrue(warnings.get(0).contains("trusted.k"), warnings.toString());
    }

    // --- whiteouts and replacement -------------------------------------------------------------

    @Test
    void aWhiteoutDeletesTheLowerEntryButNotWhatItsOwnLayerAdds() throws IOException {
        apply(new RawTar().file("etc/a", "a").file("etc/b", "b").file("var/log/x/y", "y").symlink("lnk", "/etc"));
        Extraction result = apply(new RawTar()
                .file("etc/.wh.a", "")
                .file("var/log/.wh.x", "")
                .file("etc/c", "c")
                .file("etc/.wh.c", "")
                .file(".wh.lnk", ""));
        assertFalse(Files.exists(rootfs.resolve("etc/a"), NOFOLLOW));
        assertEquals("b", read("etc/b"));
        assertFalse(Files.exists(rootfs.resolve("var/log/x"), NOFOLLOW));
        assertTrue(Files.isDirectory(rootfs.resolve("var/log")));
        assertEquals("c", read("etc/c"));
        assertFalse(Files.exists(rootfs.resolve("lnk"), NOFOLLOW));
        assertTrue(Files.isDirectory(rootfs.resolve("etc")), "removing a symlink leaves its target alone");
        assertEquals(4, result.whiteouts());
        assertFalse(Files.exists(rootfs.resolve("etc/.wh.a"), NOFOLLOW), "whiteout files are not materialised");
    }

    @Test
    void anOpaqueDirectoryLosesLowerContentAndKeepsItsOwnLayersWhicheverComesFirst() throws IOException {
        apply(new RawTar().file("d/old", "o").file("d/sub/deep", "d").file("d/keep-name", "lower").file("other/x", "x"));
        apply(new RawTar()
                .dir("d")
                .file("d/new-before", "n1")
                .dir("d/sub")
                .file("d/sub/new", "s")
                .file("d/.wh..wh..opq", "")
                .file("d/keep-name", "upper")
                .file("d/new-after", "n2"));
        try (Stream<Path> list = Files.walk(rootfs.resolve("d"))) {
            assertEquals(List.of("d", "d/keep-name", "d/new-after", "d/new-before", "d/sub", "d/sub/new"),
                    list.map(p -> rootfs.relativize(p).toString()).sorted().toList());
        }
        assertEquals("upper", read("d/keep-name"));
        assertEquals("x", read("other/x"));
    }

    @Test
    void aFileReplacesADirectoryAndADirectoryReplacesAFile() throws IOException {
        apply(new RawTar().file("was-dir/inside", "i").file("was-file", "f").symlink("was-link", "/etc"));
        apply(new RawTar().file("was-dir", "now a file").dir("was-file").file("was-file/child", "c").dir("was-link"));
        assertEquals("now a file", read("was-dir"));
        assertTrue(Files.isDirectory(rootfs.resolve("was-file"), NOFOLLOW));
        assertEquals("c", read("was-file/child"));
        assertTrue(Files.isDirectory(rootfs.resolve("was-link"), NOFOLLOW));
    }

    @Test
    void aFileOverASymlinkReplacesTheLinkInsteadOfWritingThroughIt() throws IOException {
        apply(new RawTar().file("etc/real", "real").symlink("etc/alias", "real").symlink("evil", host.resolve("secret").toString()));
        apply(new RawTar().file("etc/alias", "new").file("evil", "pwned"));
        assertEquals("real", read("etc/real"));
        assertEquals("new", read("etc/alias"));
        assertFalse(Files.isSymbolicLink(rootfs.resolve("evil")));
        assertEquals("pwned", read("evil"));
    }

    @Test
    void symlinksInParentsAreFollowedInsideTheRootfs() throws IOException {
        apply(new RawTar().dir("usr/lib").symlink("lib", "usr/lib"));
        apply(new RawTar().file("lib/libc.so", "libc"));
        assertEquals("libc", read("usr/lib/libc.so"));
        assertTrue(Files.isSymbolicLink(rootfs.resolve("lib")));
    }

    // --- escape attempts ------------------------------------------------------------------------

    @Test
    void dotDotAboveTheRootIsRejectedNamingTheEntry() {
        for (String name : List.of("../../etc/x", "../host/secret", "a/../../host/secret", "./../host/pwned")) {
            LayerExtractionException e = assertThrows(LayerExtractionException.class, () -> apply(new RawTar().file(name, "pwned")));
            assertEquals(name, e.entry());
            assertTrue(e.getMessage().contains(name) && e.getMessage().contains("outside"), e.getMessage());
        }
    }

    @Test
    void absoluteNamesLandInsideTheRootfs() throws IOException {
        apply(new RawTar().file("/etc/passwd", "inside").file("//etc//group", "g").file("./etc/./shadow", "s"));
        assertEquals("inside", read("etc/passwd"));
        assertEquals("g", read("etc/group"));
        assertEquals("s", read("etc/shadow"));
    }

    @Test
    void anAbsoluteSymlinkToTheRootIsTheRootfsRoot() throws IOException {
        apply(new RawTar().symlink("a", "/").file("a/etc/x", "x").symlink("h", host.toString()).file("h/secret", "pwned"));
        assertEquals("x", read("etc/x"));
        assertEquals("pwned", Files.readString(rootfs.resolve(host.toString().substring(1)).resolve("secret")));
    }

    @Test
    void aRelativeSymlinkCannotClimbAboveTheRootfs() throws IOException {
        apply(new RawTar().dir("deep/er").symlink("b", "../../..").symlink("deep/er/c", "../../../../host").file("b/x", "x")
                .file("deep/er/c/from-c", "pwned").file("b/host/secret", "pwned too"));
        assertEquals("x", read("x"));
        assertEquals("pwned", read("host/from-c"));
        assertEquals("pwned too", read("host/secret"));
    }

    @Test
    void hardlinksOutsideTheRootfsAreRejected() {
        LayerExtractionException e = assertThrows(LayerExtractionException.class,
                () -> apply(new RawTar().hardlink("h", "../../host-file")));
        assertTrue(e.getMessage().contains("'h'") && e.getMessage().contains("outside the rootfs"), e.getMessage());
        e = assertThrows(LayerExtractionException.class, () -> apply(new RawTar().hardlink("h", "../host/secret")));
        assertEquals("h", e.entry());
        // through a symlink: resolved inside the rootfs, where nothing is, so refused as missing
        e = assertThrows(LayerExtractionException.class,
                () -> apply(new RawTar().symlink("s", host.toString()).hardlink("h2", "s/secret")));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        assertFalse(Files.exists(rootfs.resolve("h2"), NOFOLLOW));
    }

    @Test
    void whiteoutsAndOpaqueMarkersThroughSymlinksStayInside() throws IOException {
        apply(new RawTar().symlink("a", host.toString()).symlink("up", "../..").file("keep", "k"));
        apply(new RawTar().file("a/.wh.secret", "").file("up/host/.wh.secret", "").file("a/.wh..wh..opq", "")
                .file("up/.wh..wh..opq", "").file("keep2", "k2"));
        // "up" resolves to the rootfs root, whose lower content the marker then hides
        assertFalse(Files.exists(rootfs.resolve("keep")));
        assertEquals("k2", read("keep2"));
        assertThrows(LayerExtractionException.class, () -> apply(new RawTar().file("x/.wh..", "")));
    }

    @Test
    void symlinkLoopsAreAnError() {
        LayerExtractionException e = assertThrows(LayerExtractionException.class,
                () -> apply(new RawTar().symlink("l1", "l2").symlink("l2", "l1").file("l1/x", "x")));
        assertTrue(e.getMessage().contains("symbolic links"), e.getMessage());
    }

    // --- layers from GNU tar --------------------------------------------------------------------

    @Test
    void aGzippedGnuTarLayerExtractsLikeGnuTarItself() throws IOException {
        assumeTrue(isRoot(), "compares owners, which only root can restore");
        Path src = Files.createDirectory(tmp.resolve("src"));
        sh("cd " + src + " && mkdir -p bin etc/deep/er tmp && printf busy > bin/busybox && chmod 4755 bin/busybox"
                + " && ln -s busybox bin/sh && ln bin/busybox bin/ls && printf cfg > etc/conf && chown 1000:1001 etc/conf"
                + " && chmod 1777 tmp && mkdir -p " + "l".repeat(120) + " && printf long > " + "l".repeat(120) + "/" + "m".repeat(120)
                + " && mkfifo etc/fifo && touch -h -d @1600000000 bin/sh && touch -d @1500000000 etc/deep/er etc/conf");
        for (String format : List.of("pax", "gnu")) {
            Path layer = tmp.resolve(format + ".tar.gz");
            sh("tar --format=" + format + " -C " + src + " -czf " + layer + " .");
            Path target = Files.createDirectory(tmp.resolve("x-" + format));
            new LayerExtractor(target, true, warnings::add).apply(layer);
            Path reference = Files.createDirectory(tmp.resolve("ref-" + format));
            sh("tar -C " + reference + " -xpzf " + layer);
            assertEquals(TreeDescription.describe(reference), TreeDescription.describe(target), format);
        }
        assertEquals(List.of(), warnings);
    }
}
