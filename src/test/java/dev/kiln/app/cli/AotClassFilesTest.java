package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code scripts/AotClassFiles.java} on the real picocli jar (class-file version 49) and on a jar with no
 * old class, run as {@code scripts/aot-cache} runs it: Temurin 25's source launcher.
 */
class AotClassFilesTest {
    private static final Path JAVA25 = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64/bin/java");

    @TempDir
    Path dir;

    @Test
    void picocliGetsACopyAtVersion52ThatVerifiesAndAJarWithoutOldClassesStaysAsItIs() throws Exception {
        assertTrue(Files.isExecutable(JAVA25), "Temurin 25 is installed on these machines: " + JAVA25);
        Path picocli = Path.of(CommandLine.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path junit = Path.of(Test.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertTrue(oldClasses(picocli) > 100, "picocli's classes are version 49: " + picocli);

        ExecResult result = Tools.run(dir, List.of(JAVA25.toString(), Path.of("scripts/AotClassFiles.java").toAbsolutePath().toString(),
                "out", picocli.toString(), junit.toString()), Map.of(), 120).requireSuccess();
        Path copy = dir.resolve("out").resolve(picocli.getFileName());
        assertEquals(List.of("out/" + picocli.getFileName(), junit.toString()), result.stdout().lines().toList(),
                "the copy for picocli, the jar itself for JUnit");

        assertEquals(0, oldClasses(copy), "no class older than version 50 is left");
        List<String> names = new ArrayList<>();
        try (ZipFile original = new ZipFile(picocli.toFile()); ZipFile changed = new ZipFile(copy.toFile())) {
            for (ZipEntry entry : Collections.list(original.entries())) {
                names.add(entry.getName());
                if (!entry.getName().endsWith(".class")) {
                    assertArrayEquals(bytes(original, entry), bytes(changed, changed.getEntry(entry.getName())), entry.getName());
                }
            }
            names.add("META-INF/KILN-CHANGED-CLASS-FILES.txt");
            assertEquals(names, Collections.list(changed.entries()).stream().map(ZipEntry::getName).toList(),
                    "the same entries in the same order, and the notice that the copy was changed");
        }
        // version 52 has no fallback to the old verifier: a wrong stack map is a VerifyError here
        ExecResult help = Tools.run(dir, List.of(JAVA25.toString(), "-Xverify:all", "-cp", copy.toString(), "picocli.AutoComplete", "--help"),
                Map.of(), 60);
        assertTrue(help.stdout().contains("Usage:") && !help.output().contains("VerifyError"), help.output());
    }

    private static int oldClasses(Path jar) throws IOException {
        int old = 0;
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            for (ZipEntry entry : Collections.list(zip.entries())) {
                if (entry.getName().endsWith(".class") && !entry.getName().startsWith("META-INF/")) {
                    byte[] head = bytes(zip, entry);
                    if (((head[6] & 0xff) << 8 | (head[7] & 0xff)) < 50) {
                        old++;
                    }
                }
            }
        }
        return old;
    }

    private static byte[] bytes(ZipFile zip, ZipEntry entry) throws IOException {
        try (InputStream in = zip.getInputStream(entry)) {
            return in.readAllBytes();
        }
    }
}
