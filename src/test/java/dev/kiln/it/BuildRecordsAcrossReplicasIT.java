package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Http;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.S3Replicas;
import dev.kiln.testkit.Poll;
import dev.kiln.testkit.Slowness;
import dev.kiln.testkit.Tools;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two {@code kiln serve} on one bucket (moto): a build submitted to one is answered by the other,
 * its status, its log and its log followed as server-sent events, all read from the bucket.
 */
class BuildRecordsAcrossReplicasIT {
    static final String BUCKET = "kiln-builds";
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path work;

    S3Replicas cluster;

    @AfterEach
    void tearDown() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void aBuildSubmittedToOneReplicaIsAnsweredByTheOther() throws Exception {
        cluster = S3Replicas.start(work, BUCKET);
        KilnProcess a = cluster.start("builds-a");
        KilnProcess b = cluster.start("builds-b");

        Path context = Files.createDirectories(work.resolve("context"));
        Files.writeString(context.resolve("Dockerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\n");
        Files.writeString(context.resolve("hello.txt"), "hello from replica a\n");
        Path tar = work.resolve("context.tar.gz");
        ExecResult packed = Tools.run(List.of("tar", "-czf", tar.toString(), "-C", context.toString(), "."), Map.of(), 60);
        assertEquals(0, packed.exitCode(), packed.output());

        Http onA = Http.at(a.baseUrl());
        HttpResponse<String> submitted = onA.request(HttpRequest.newBuilder(onA.url("api/v1/builds?destination=" + a.hostPort()
                        + "/local/replicated:1"))
                .header("Content-Type", "application/gzip").POST(HttpRequest.BodyPublishers.ofFile(tar)));
        assertEquals(202, submitted.statusCode(), submitted.body() + cluster.logs());
        String id = JSON.readTree(submitted.body()).path("id").asText();

        Http onB = Http.at(b.baseUrl());
        String[] state = {""};
        assertTrue(Poll.until(Slowness.scale(Duration.ofSeconds(120)), () -> {
            try {
                HttpResponse<String> status = onB.getText("api/v1/builds/" + id);
                if (status.statusCode() == 200) {
                    JsonNode node = JSON.readTree(status.body());
                    state[0] = node.path("state").asText();
                }
                return state[0].equals("succeeded") || state[0].equals("failed");
            } catch (Exception e) {
                return false;
            }
        }), "replica b answers for the build run on a; last state " + state[0] + cluster.logs());
        assertEquals("succeeded", state[0], cluster.logs());
        HttpResponse<String> onBRecord = onB.getText("api/v1/builds/" + id);
        assertEquals(JSON.readTree(onA.getText("api/v1/builds/" + id).body()).path("digest"),
                JSON.readTree(onBRecord.body()).path("digest"), "the same result on both");

        String logOnA = onA.getText("api/v1/builds/" + id + "/log").body();
        HttpResponse<String> logOnB = onB.getText("api/v1/builds/" + id + "/log");
        assertEquals(200, logOnB.statusCode());
        assertTrue(logOnA.contains("build succeeded"), logOnA);
        assertEquals(logOnA, logOnB.body(), "the whole log, read from the bucket");

        HttpResponse<String> events = onB.request(HttpRequest.newBuilder(onB.url("api/v1/builds/" + id + "/log"))
                .header("Accept", "text/event-stream").GET());
        assertEquals(200, events.statusCode());
        assertTrue(events.body().contains("data: build succeeded"), events.body());
        assertTrue(events.body().contains("event: end\ndata: {\"id\":\"" + id + "\",\"state\":\"succeeded\""), events.body());

        assertEquals(404, onB.getText("api/v1/builds/" + "0".repeat(20)).statusCode(), "an unknown build is still unknown");
    }
}
