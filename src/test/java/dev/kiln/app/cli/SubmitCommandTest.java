package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.Ports;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class SubmitCommandTest {
    @TempDir
    Path dir;

    @Test
    void noGatewayThereSaysSoAndHowToStartOne() throws IOException {
        Files.writeString(dir.resolve("Dockerfile"), "FROM scratch\n");
        int port = Ports.freePort();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = new CommandLine(new SubmitCommand(new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true)))
                .execute("--gateway", "http://127.0.0.1:" + port, dir.toString());
        String message = err.toString(StandardCharsets.UTF_8).strip();
        assertEquals(1, exit, message);
        assertEquals(1, message.lines().count(), message);
        assertTrue(message.startsWith("error: cannot reach the gateway at http://127.0.0.1:" + port + ": connection refused")
                && message.contains("kiln serve") && message.contains("--gateway"), message);
    }
}
