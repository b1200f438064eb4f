package dev.kiln.builder.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.app.cli.BuildCommand;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * An ONBUILD trigger inherited from a base (here an earlier stage) is refused for the same reasons as
 * the Dockerfile's own instructions, with the FROM line that pulled it in, before anything runs.
 */
class OnbuildTriggerRefusalTest {
    @TempDir
    Path dir;

    private String build(String dockerfile, int expectedExit) throws Exception {
        Path context = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(context.resolve("Dockerfile"), dockerfile);
        Files.writeString(context.resolve("a.txt"), "a\n");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        int exit = new CommandLine(new BuildCommand(new PrintStream(log, true, StandardCharsets.UTF_8))).execute(
                "-c", context.toString(), "--no-push", "--cache-dir", dir.resolve("cache").toString(),
                "--oci-layout-path", dir.resolve("layout").toString());
        String text = log.toString(StandardCharsets.UTF_8);
        assertEquals(expectedExit, exit, text);
        return text;
    }

    @Test
    void anInsecureRunTriggerIsRefusedAtTheFromThatInheritsIt() throws Exception {
        String log = build("""
                FROM scratch AS parent
                COPY a.txt /parent.txt
                ONBUILD RUN --security=insecure touch /x
                FROM parent
                COPY a.txt /child.txt
                """, 1);
        assertTrue(log.contains("Dockerfile:4: ONBUILD trigger RUN --security=insecure touch /x: "
                + "RUN --security=insecure needs the security.insecure entitlement, which Kiln never grants"), log);
        assertFalse(log.contains("child.txt"), "the stage ran a step before the refusal:\n" + log);
    }

    @Test
    void aTriggerWithTwoSourcesAndAChecksumIsRefusedToo() throws Exception {
        String log = build("""
                FROM scratch AS parent
                ONBUILD ADD --checksum=sha256:0000 a.txt b.txt /
                FROM parent
                """, 1);
        assertTrue(log.contains("ONBUILD trigger ADD --checksum=sha256:0000 a.txt b.txt /: checksum can't be specified for multiple sources"),
                log);
    }
}
