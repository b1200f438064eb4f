package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.builder.exec.BuildLog;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.oci.Digest;
import dev.kiln.registry.client.TransferProgress;
import dev.kiln.registry.client.TransferProgress.Blob;
import dev.kiln.registry.client.TransferProgress.Direction;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Progress of pulls and pushes: a redrawn line on a terminal, a few plain or JSON log lines anywhere else. */
class ProgressReporterTest {
    private static final Digest DIGEST = Digest.sha256("layer".getBytes(StandardCharsets.UTF_8));
    private static final long MIB = 1024 * 1024;

    @TempDir
    Path dir;

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    private final AtomicLong now = new AtomicLong();

    private String output() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /** 100 MiB in 1 MiB reads over 20 simulated seconds. */
    private void transfer(TransferProgress progress, Blob blob) {
        progress.started(blob);
        for (int i = 1; i <= 100; i++) {
            now.addAndGet(200_000_000L);
            progress.advanced(blob, i * MIB);
        }
        progress.finished(blob);
    }

    @Test
    void offATerminalALineAtMostEveryFiveSecondsAndOnePerBlobDone() {
        BuildLog log = new BuildLog(err, BuildLog.Format.TEXT, BuildLog.Level.INFO, false, Clock.systemUTC());
        transfer(new ProgressReporter(log, null, now::get), new Blob(Direction.PULL, "busybox layer " + DIGEST, DIGEST, 100 * MIB));
        List<String> lines = output().lines().toList();
        assertFalse(output().contains("\r"), "no carriage returns in a log: " + output());
        assertEquals(4, lines.stream().filter(l -> l.contains("pulling busybox layer " + DIGEST.toString().substring(0, 19) + ": ")).count(),
                "20 s of transfer, a line every 5 s: " + lines);
        assertTrue(lines.get(0).contains("25.0 MiB of 100.0 MiB (25%)"), lines.get(0));
        assertEquals(1, lines.stream().filter(l -> l.contains("pulled busybox layer") && l.contains("100.0 MiB in 20.0 s")).count(), output());
        assertEquals(5, lines.size(), output());
    }

    @Test
    void withJsonLogsEveryProgressLineIsJson() throws Exception {
        BuildLog log = new BuildLog(err, BuildLog.Format.JSON, BuildLog.Level.INFO, false, Clock.systemUTC());
        ProgressReporter progress = new ProgressReporter(log, null, now::get);
        transfer(progress, new Blob(Direction.PUSH, "registry/app", DIGEST, 100 * MIB));
        progress.skipped(new Blob(Direction.PUSH, "registry/app", DIGEST, 5), "already there");
        List<String> lines = output().lines().toList();
        assertEquals(6, lines.size(), output());
        for (String line : lines) {
            JsonNode json = new ObjectMapper().readTree(line);
            assertEquals("info", json.path("level").asText().toLowerCase(), line);
        }
        assertTrue(lines.get(4).contains("pushed " + DIGEST.toString().substring(0, 19) + " to registry/app"), lines.get(4));
        assertTrue(lines.get(5).contains("not pushed") && lines.get(5).contains("already there"), lines.get(5));
    }

    @Test
    void onATerminalOneLineIsRedrawnAndErasedAtTheEnd() {
        BuildLog log = new BuildLog(err, BuildLog.Format.TEXT, BuildLog.Level.INFO, false, Clock.systemUTC());
        transfer(new ProgressReporter(log, err, now::get), new Blob(Direction.PULL, "busybox layer " + DIGEST, DIGEST, 100 * MIB));
        String out = output();
        assertFalse(out.contains("\n"), "nothing but the redrawn line: " + out);
        assertTrue(out.contains("\rpulling 1 blob: 50.0 MiB of 100.0 MiB (50%)\033[K"), out);
        assertTrue(out.endsWith("\r\033[K"), "erased when done");
        long redraws = out.chars().filter(c -> c == '\r').count();
        assertTrue(redraws > 50 && redraws < 110, "redrawn as the bytes move: " + redraws);
    }

    @Test
    void kilnWarmOffATerminalLogsEachBlobItPulled() throws Exception {
        byte[] layer = new byte[300_000];
        new Random().nextBytes(layer);
        try (DockerRegistry registry = DockerRegistry.start(dir.resolve("registry"))) {
            registry.pushImage("progress/app", "1", layer);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int exit = new CommandLine(new WarmCommand(new PrintStream(out, true, StandardCharsets.UTF_8), err)).execute(
                    "--image", registry.host() + "/progress/app:1", "--insecure-registry", registry.host(),
                    "--cache-dir", dir.resolve("cache").toString());
            assertEquals(0, exit, output());
            List<String> pulled = output().lines().filter(l -> l.startsWith("pulled " + registry.host() + "/progress/app:1 config sha256:")
                    || l.startsWith("pulled " + registry.host() + "/progress/app:1 layer sha256:")).toList();
            assertEquals(2, pulled.size(), "one line for the config, one for the layer: " + output());
            assertTrue(pulled.stream().anyMatch(l -> l.contains(" layer sha256:") && l.contains("293.0 KiB in ")), output());
            assertFalse(output().contains("\r"), output());
        }
    }
}
