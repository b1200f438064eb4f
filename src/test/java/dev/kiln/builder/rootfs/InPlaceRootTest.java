package dev.kiln.builder.rootfs;

import static dev.kiln.testing.Commands.isRoot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A directory stands in for the executor container's {@code /}: a userland, Kiln's home, a
 * mounted {@code /etc/resolv.conf}, a build dir below {@code /tmp}. Wiping it and unpacking
 * layers over it must leave exactly the ignored paths of the container and the image's files.
 */
class InPlaceRootTest {
    @TempDir
    Path root;
    InPlaceRoot inPlace;
    final List<String> warnings = new ArrayList<>();

    @BeforeEach
    void containerWithKilnInIt() throws IOException {
        for (String dir : List.of("bin", "etc", "kiln/bin", "kiln/jre/lib", "proc/1", "tmp/kiln-build-1/layers", "usr/lib",
                "workspace")) {
            Files.createDirectories(root.resolve(dir));
        }
        Files.writeString(root.resolve("bin/busybox"), "the container's userland");
        Files.writeString(root.resolve("etc/passwd"), "root:x:0:0");
        Files.writeString(root.resolve("etc/resolv.conf"), "nameserver 10.0.0.10");
        Files.writeString(root.resolve("kiln/bin/kiln"), "launcher");
        Files.writeString(root.resolve("kiln/jre/lib/libjvm.so"), "jvm");
        Files.writeString(root.resolve("proc/1/status"), "Pid: 1");
        Files.writeString(root.resolve("tmp/kiln-build-1/layers/a"), "a layer");
        Files.writeString(root.resolve("tmp/other"), "scratch");
        Files.writeString(root.resolve("usr/lib/libc.so.6"), "glibc");
        Files.writeString(root.resolve("workspace/Dockerfile"), "FROM scratch");
        inPlace = new InPlaceRoot(root, IgnoredPaths.of(List.of("/kiln", "/proc", "/etc/resolv.conf",
                "/tmp/kiln-build-1", "/workspace")));
    }

    private Set<String> tree() throws IOException {
        Set<String> paths = new TreeSet<>();
        try (Stream<Path> walk = Files.walk(root)) {
            walk.filter(p -> !p.equals(root)).forEach(p -> paths.add(root.relativize(p).toString()));
        }
        return paths;
    }

    private LayerExtractor extractor() {
        return new LayerExtractor(root, isRoot(), warnings::add).ignoring(inPlace.ignored());
    }

    @Test
    void wipeLeavesOnlyIgnoredPathsAndTheDirectoriesLeadingToThem() throws IOException {
        inPlace.wipe();

        assertEquals(new TreeSet<>(List.of("etc", "etc/resolv.conf", "kiln", "kiln/bin", "kiln/bin/kiln", "kiln/jre",
                "kiln/jre/lib", "kiln/jre/lib/libjvm.so", "proc", "proc/1", "proc/1/status", "tmp", "tmp/kiln-build-1",
                "tmp/kiln-build-1/layers", "tmp/kiln-build-1/layers/a", "workspace", "workspace/Dockerfile")), tree());
    }

    @Test
    void layersOverTheRootLeaveIgnoredPathsAloneWhateverTheyContain() throws IOException {
        inPlace.wipe();
        extractor().apply(new RawTar()
                .dir("etc")
                .file("etc/passwd", "image passwd")
                .file("etc/resolv.conf", "nameserver from the image")
                .file("kiln/bin/kiln", "an image's own /kiln")
                .dir("proc")
                .file("proc/cpuinfo", "image junk")
                .symlink("lib", "/kiln/jre/lib")
                .file("lib/libjvm.so", "written through a symlink into Kiln")
                .hardlink("stolen", "kiln/jre/lib/libjvm.so")
                .file("usr/lib/libc.so.6", "junk")
                .stream());

        assertEquals("nameserver 10.0.0.10", Files.readString(root.resolve("etc/resolv.conf")));
        assertEquals("launcher", Files.readString(root.resolve("kiln/bin/kiln")));
        assertEquals("jvm", Files.readString(root.resolve("kiln/jre/lib/libjvm.so")));
        assertFalse(Files.exists(root.resolve("proc/cpuinfo")));
        assertFalse(Files.exists(root.resolve("stolen"), LinkOption.NOFOLLOW_LINKS), "no hardlink to Kiln's files");
        assertEquals("image passwd", Files.readString(root.resolve("etc/passwd")));
        assertEquals("junk", Files.readString(root.resolve("usr/lib/libc.so.6")));
        assertTrue(Files.isSymbolicLink(root.resolve("lib")), "the image's own symlink is kept");
        assertEquals(1, (Integer) Files.getAttribute(root.resolve("kiln/jre/lib/libjvm.so"), "unix:nlink"));
    }

    @Test
    void whiteoutsOpaqueDirectoriesAndReplacementsSpareIgnoredPaths() throws IOException {
        inPlace.wipe();
        extractor().apply(new RawTar()
                .file("etc/hosts", "image hosts")
                .file("tmp/image-file", "x")
                .stream());
        extractor().apply(new RawTar()
                .file("etc/.wh..wh..opq", "")
                .file("etc/group", "new group")
                .file(".wh.kiln", "")
                .file(".wh.workspace", "")
                .file(".wh.tmp", "")
                .file("proc", "a file where the container has /proc")
                .stream());

        assertFalse(Files.exists(root.resolve("etc/hosts")), "the opaque directory hides the lower layer's file");
        assertEquals("new group", Files.readString(root.resolve("etc/group")));
        assertEquals("nameserver 10.0.0.10", Files.readString(root.resolve("etc/resolv.conf")));
        assertEquals("launcher", Files.readString(root.resolve("kiln/bin/kiln")));
        assertEquals("FROM scratch", Files.readString(root.resolve("workspace/Dockerfile")));
        assertFalse(Files.exists(root.resolve("tmp/image-file")), "the whiteout of /tmp removes the image's files in it");
        assertEquals("a layer", Files.readString(root.resolve("tmp/kiln-build-1/layers/a")));
        assertTrue(Files.isDirectory(root.resolve("proc"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void anEntryWhoseSpotHoldsIgnoredPathsIsSkippedWithAWarning() throws IOException {
        inPlace.wipe();
        extractor().apply(new RawTar().symlink("tmp", "/var/tmp").stream());

        assertTrue(Files.isDirectory(root.resolve("tmp"), LinkOption.NOFOLLOW_LINKS));
        assertEquals("a layer", Files.readString(root.resolve("tmp/kiln-build-1/layers/a")));
        assertTrue(warnings.stream().anyMatch(w -> w.contains("tmp") && w.contains("in-place")), warnings.toString());
    }

    @Test
    void ignoringTheWholeRootIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> IgnoredPaths.of(List.of("/kiln", "/")));
    }

    @Test
    void mountPointsComeFromMountinfoWithEscapesUndone() {
        String mountinfo = """
                22 1 0:21 / / rw,relatime - overlay overlay rw
                23 22 0:5 / /proc rw,nosuid - proc proc rw
                24 22 8:1 /pods/x/etc-hosts /etc/hosts rw - ext4 /dev/sda1 rw
                25 22 8:1 /vol /my\\040volume rw - ext4 /dev/sda1 rw
                26 22 0:40 / /var/run/secrets/kubernetes.io/serviceaccount ro - tmpfs tmpfs rw
                """;

        assertEquals(List.of("/proc", "/etc/hosts", "/my volume", "/var/run/secrets/kubernetes.io/serviceaccount"),
                IgnoredPaths.mountPoints(mountinfo));
    }

    @Test
    void coversAPathAndEverythingBelowItButNotItsSiblings() {
        IgnoredPaths ignored = IgnoredPaths.of(List.of("/kiln", "etc/resolv.conf"));

        assertTrue(ignored.covers("kiln"));
        assertTrue(ignored.covers("kiln/jre/bin/java"));
        assertFalse(ignored.covers("kilnx"));
        assertFalse(ignored.covers("etc"));
        assertTrue(ignored.hasIgnoredBelow("etc"));
        assertTrue(ignored.hasIgnoredBelow(""));
        assertFalse(ignored.hasIgnoredBelow("etc/resolv.conf"));
    }
}
