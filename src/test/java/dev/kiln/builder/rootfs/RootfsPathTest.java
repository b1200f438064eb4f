package dev.kiln.builder.rootfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RootfsPathTest {
    @TempDir
    Path tmp;
    Path root;
    RootfsPath rootfs;

    @BeforeEach
    void setUp() throws IOException {
        root = Files.createDirectories(tmp.resolve("rootfs")).toRealPath();
        Files.createDirectories(root.resolve("usr/lib"));
        Files.createDirectories(root.resolve("etc"));
        Files.createSymbolicLink(root.resolve("lib"), Path.of("usr/lib"));
        Files.createSymbolicLink(root.resolve("abs"), Path.of("/usr/lib"));
        Files.createSymbolicLink(root.resolve("top"), Path.of("/"));
        Files.createSymbolicLink(root.resolve("climb"), Path.of("../../../../.."));
        Files.createSymbolicLink(root.resolve("etc/resolv.conf"), Path.of("../run/resolv.conf"));
        Files.createSymbolicLink(root.resolve("loop"), Path.of("loop"));
        rootfs = RootfsPath.of(tmp.resolve("rootfs"));
    }

    private String inside(Path p) {
        return rootfs.inside(p);
    }

    @Test
    void followsSymlinksInParentsRelativeAndAbsoluteAsAChrootWould() throws IOException {
        assertEquals("/usr/lib/libc.so", inside(rootfs.resolve("lib/libc.so")));
        assertEquals("/usr/lib/libc.so", inside(rootfs.resolve("/abs/libc.so")));
        assertEquals("/etc/passwd", inside(rootfs.resolve("top/etc/passwd")));
        assertEquals("/etc/passwd", inside(rootfs.resolve("top/top/../../etc/passwd")));
        assertEquals("/x", inside(rootfs.resolve("climb/x")));
        assertEquals("/x", inside(rootfs.resolve("../../../x")));
        assertEquals("/usr/x", inside(rootfs.resolve("lib/../x")), "'..' after a symlink steps up from its target, like the kernel");
    }

    @Test
    void theLastComponentIsFollowedOnlyWhenAsked() throws IOException {
        assertEquals("/run/resolv.conf", inside(rootfs.resolve("etc/resolv.conf")));
        assertEquals("/etc/resolv.conf", inside(rootfs.resolveNoFollow("etc/resolv.conf")));
        assertEquals("/top", inside(rootfs.resolveNoFollow("top")));
        assertEquals("/", inside(rootfs.resolve("top")));
    }

    @Test
    void missingComponentsAreKeptAsWritten() throws IOException {
        assertEquals("/usr/lib/new/dir/file", inside(rootfs.resolve("lib/new/dir/file")));
        assertEquals(root.resolve("usr/lib/new"), rootfs.resolve("/lib/new"));
    }

    @Test
    void loopsFailLikeELOOP() {
        FileSystemException e = assertThrows(FileSystemException.class, () -> rootfs.resolve("loop/x"));
        assertEquals("loop/x", e.getFile());
        assertEquals("/loop", inside(assertDoesNotThrow(() -> rootfs.resolveNoFollow("loop"))));
    }

    private static Path assertDoesNotThrow(org.junit.jupiter.api.function.ThrowingSupplier<Path> s) {
        return org.junit.jupiter.api.Assertions.assertDoesNotThrow(s);
    }
}
