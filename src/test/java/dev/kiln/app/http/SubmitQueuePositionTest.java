package dev.kiln.app.http;

import static dev.kiln.app.http.BuildApi.awaitEnd;
import static dev.kiln.app.http.BuildApi.context;
import static dev.kiln.app.http.BuildApi.tarGz;
import static dev.kiln.app.http.Registry.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.app.cli.SubmitCommand;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code kiln submit} against a gateway whose one build slot is taken: it says where it waits, then follows the build. */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class SubmitQueuePositionTest {
    private static final Path WORK = Path.of("target", "submit-queue-position-test");

    @Test
    void submitShowsItsQueuePositionWhileTheSlotIsTaken() throws Exception {
        String base = BuildApi.busyboxBase(WORK);
        String token = UUID.randomUUID().toString().substring(0, 8);
        Path slow = context(WORK, "FROM " + base + "\nRUN echo busy-" + token + " && sleep 6\n", Map.of());
        String busy = request().contentType("application/gzip").body(tarGz(slow)).post("/api/v1/builds")
                .then().statusCode(202).extract().path("id");
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (!request().get("/api/v1/builds/" + busy + "/log").asString().contains("busy-" + token)) {
            assertTrue(System.nanoTime() < deadline, "the first build started");
            Thread.sleep(100);
        }

        Path ctx = context(WORK, "FROM scratch\nCOPY a.txt /a.txt\n", Map.of("a.txt", "a\n"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CompletableFuture<Integer> submitted = CompletableFuture.supplyAsync(() -> new CommandLine(new SubmitCommand(
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)))
                .execute("--gateway", BuildApi.url(""), ctx.toString()));
        int exit = submitted.get(3, TimeUnit.MINUTES);
        String messages = err.toString(StandardCharsets.UTF_8);
        assertEquals(0, exit, messages + out);
        assertTrue(messages.lines().anyMatch(l -> l.matches("build \\S+ queued: position 1 \\(0 ahead\\)")),
                "the queue position while the slot was taken: " + messages);
        assertEquals(1, messages.lines().filter(l -> l.contains("queued: position")).count(), "said once, not at every poll: " + messages);
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("COPY a.txt /a.txt"), "then the log followed: " + out);
        assertEquals("succeeded", awaitEnd(busy).get("state").asText());
    }
}
