package dev.kiln.builder.snapshot;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.rootfs.Trees;
import dev.kiln.testing.Commands;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The overlay snapshotter for a caller that really is unprivileged: a second JVM runs
 * {@link UnprivilegedOverlayMain} as uid/gid 65534 with no capability left, so the overlay is
 * mounted in a user namespace with {@code userxattr}, as in an unprivileged build pod.
 */
class UnprivilegedOverlayTest {
    @Test
    void everyCaseAsNobody() throws Exception {
        Assumptions.assumeTrue(Commands.isRoot(), "needs root to become nobody");
        Path setpriv = Path.of("/usr/bin/setpriv");
        assertTrue(Files.isExecutable(setpriv), "util-linux setpriv is needed");
        Path classes = Path.of("target/classes").toAbsolutePath();
        Path testClasses = Path.of("target/test-classes").toAbsolutePath();
        Path work = Files.createTempDirectory("kiln-unpriv-overlay-");
        try {
            Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.setAttribute(work, "unix:uid", 65534);
            Files.setAttribute(work, "unix:gid", 65534);
            String java = ProcessHandle.current().info().command().orElse("java");
            ProcessBuilder pb = new ProcessBuilder(setpriv.toString(), "--reuid=65534", "--regid=65534", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", java, "-XX:-UsePerfData", "-Xshare:auto",
                    "-cp", String.join(File.pathSeparator, classes.toString(), testClasses.toString(), libraries(work)),
                    UnprivilegedOverlayMain.class.getName(), work.toString())
                    .redirectErrorStream(true).directory(work.toFile());
            pb.environment().put("HOME", work.toString());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(300, TimeUnit.SECONDS));
            List<String> failed = out.lines().filter(l -> l.startsWith("FAIL") || l.contains("Exception")).toList();
            assertTrue(failed.isEmpty() && out.contains("ALL OK"), out);
        } finally {
            Trees.deleteQuietly(work);
        }
    }

    /**
     * The libraries the layer code needs, copied where the other user can read them (the local
     * Maven repository usually sits in root's home, closed to others).
     */
    private static String libraries(Path work) throws Exception {
        Path lib = Files.createDirectories(work.resolve("lib"));
        List<String> jars = new ArrayList<>();
        for (String name : List.of("org.apache.commons.compress.archivers.tar.TarArchiveEntry",
                "org.apache.commons.io.IOUtils", "org.apache.commons.lang3.StringUtils", "com.github.luben.zstd.Zstd")) {
            Class<?> type;
            try {
                type = Class.forName(name, false, UnprivilegedOverlayTest.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                continue; // not a dependency of this build
            }
            Path jar = Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path copy = lib.resolve(jar.getFileName());
            Files.copy(jar, copy);
            Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-r--r--"));
            jars.add(copy.toString());
        }
        Files.setPosixFilePermissions(lib, PosixFilePermissions.fromString("rwxr-xr-x"));
        return String.join(File.pathSeparator, jars);
    }
}
