package dev.kiln.builder.exec;

import dev.kiln.testkit.BusyboxContext;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.app.cli.BuildCommand;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code kiln build --snapshot-mode}: the same Dockerfile, built reproducibly, gives the same image
 * digest whether its steps are snapshotted by walking or by the RUN's overlay, so both find the
 * same changes down to every layer's bytes.
 */
class SnapshotModeBuildTest {
    @Test
    void walkOverlayAndAutoBuildTheSameImage(@TempDir Path dir) throws Exception {
        Path ctx = BusyboxContext.write(dir.resolve("ctx"), """
                RUN mkdir -p /app/d /var/lib && echo a > /app/d/a && echo b > /app/d/b && ln /app/d/a /app/hl \\
                    && ln -s d/a /app/sym && mkfifo /var/lib/fifo && echo base > /var/lib/conf
                WORKDIR /app/work
                COPY hello.txt ./
                RUN rm -rf /app/d/* && chmod 700 /app && echo more >> hello.txt && rm /app/sym && chmod 600 /var/lib/conf
                RUN rm -rf /app/d && echo file > /app/d && mkdir -p /opt/new/deep && echo n > /opt/new/deep/n
                COPY hello.txt /app/d2/
                RUN --mount=type=cache,target=/cache echo c > /cache/c && rm -rf /var/lib && mkdir /var/lib \\
                    && echo again > /var/lib/conf
                RUN true
                """);
        Files.writeString(ctx.resolve("hello.txt"), "hello\n");
        List<String> digests = new ArrayList<>();
        for (String mode : List.of("walk", "overlay", "auto")) {
            Path digest = dir.resolve("digest-" + mode);
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            int exit = new CommandLine(new BuildCommand(new PrintStream(log, true, StandardCharsets.UTF_8))).execute(
                    "-c", ctx.toString(), "--no-push", "--reproducible", "--snapshot-mode", mode,
                    "--digest-file", digest.toString(), "--cache-dir", dir.resolve("cache").toString(),
                    "--oci-layout-path", dir.resolve("layout-" + mode).toString());
            assertEquals(0, exit, log.toString(StandardCharsets.UTF_8));
            digests.add(Files.readString(digest));
        }
        assertTrue(digests.get(0).startsWith("sha256:"), digests.toString());
        assertEquals(List.of(digests.get(0), digests.get(0), digests.get(0)), digests);
    }

    @Test
    void anUnknownModeFailsBeforeBuilding(@TempDir Path dir) {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        int exit = new CommandLine(new BuildCommand(new PrintStream(log, true, StandardCharsets.UTF_8))).execute(
                "-c", dir.toString(), "--no-push", "--snapshot-mode", "fast");
        assertEquals(1, exit);
        assertTrue(log.toString(StandardCharsets.UTF_8).startsWith("error: --snapshot-mode: unknown snapshot mode fast"),
                log.toString(StandardCharsets.UTF_8));
    }
}
