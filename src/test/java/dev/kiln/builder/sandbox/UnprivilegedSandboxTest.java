package dev.kiln.builder.sandbox;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The namespace sandbox for an unprivileged caller, for real: a second JVM runs
 * {@link UnprivilegedMain} as uid/gid 65534 ({@code setpriv --reuid --regid --clear-groups}, so no
 * capability and no supplementary group is left), with only the project's classes on its class path.
 */
class UnprivilegedSandboxTest {

    @Test
    void mainCasesAsNobody() throws Exception {
        Assumptions.assumeTrue(ProcessRunner.currentUid() == 0, "needs root to become nobody");
        String setpriv = ProcessRunner.hostTool("setpriv");
        Assumptions.assumeTrue(setpriv != null, "setpriv is not installed");
        Path classes = Path.of("target/classes").toAbsolutePath();
        Path testClasses = Path.of("target/test-classes").toAbsolutePath();
        Path work = Files.createTempDirectory("kiln-unpriv-");
        Path markerDir = Files.createTempDirectory("kiln-marker-");
        Path marker = markerDir.resolve("shadow");
        try {
            Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.setAttribute(work, "unix:uid", 65534);
            Files.setAttribute(work, "unix:gid", 65534);
            Files.setPosixFilePermissions(markerDir, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.writeString(marker, "host secret");
            Files.setPosixFilePermissions(marker, PosixFilePermissions.fromString("rw-r--r--"));
            String java = ProcessHandle.current().info().command().orElse("java");
            ProcessBuilder pb = new ProcessBuilder(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", java, "-XX:-UsePerfData", "-Xshare:auto",
                    "-cp", classes + File.pathSeparator + testClasses, UnprivilegedMain.class.getName(),
                    work.toString(), marker.toString())
                    .redirectErrorStream(true).directory(work.toFile());
            pb.environment().put("HOME", work.toString());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertTrue(out.contains("UID 65534"), out);
            List<String> failed = out.lines().filter(l -> l.startsWith("FAIL") || l.contains("Exception")).toList();
            assertTrue(failed.isEmpty() && out.contains("ALL OK"), out);
        } finally {
            RunSetup.deleteTree(work);
            RunSetup.deleteTree(markerDir);
        }
    }
}
