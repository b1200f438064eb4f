package dev.kiln.builder.sandbox;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A busybox-static rootfs for sandbox tests. */
final class TestRootfs {
    static final Path BUSYBOX = Files.isRegularFile(Path.of("/bin/busybox")) ? Path.of("/bin/busybox")
            : Path.of("/usr/bin/busybox");
    static final List<String> APPLETS = List.of("sh", "ls", "cat", "id", "echo", "touch", "sleep", "ps",
            "hostname", "env", "mkdir", "rm", "grep", "readlink", "stat", "wc", "pwd", "chroot", "test", "mount");

    private TestRootfs() {
    }

    static Path create(Path dir) throws IOException {
        Path root = dir.resolve("rootfs");
        Files.createDirectories(root.resolve("bin"));
        Files.createDirectories(root.resolve("etc"));
        Files.copy(BUSYBOX, root.resolve("bin/busybox"));
        root.resolve("bin/busybox").toFile().setExecutable(true, false);
        for (String applet : APPLETS) {
            Files.createSymbolicLink(root.resolve("bin").resolve(applet), Path.of("busybox"));
        }
        Files.writeString(root.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n"
                + "nobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"
                + "app:x:1000:1000:app:/home/app:/bin/sh\n");
        Files.writeString(root.resolve("etc/group"), "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nstaff:x:50:app\n");
        return root;
    }

    /** Collects output for assertions. */
    static final class Capture {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();

        String out() {
            return out.toString(StandardCharsets.UTF_8);
        }

        String err() {
            return err.toString(StandardCharsets.UTF_8);
        }
    }
}
