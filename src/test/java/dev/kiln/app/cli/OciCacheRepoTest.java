package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.Tools;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code --cache-repo=oci:DIR}: the layer cache as an OCI image layout, which skopeo reads as one. */
class OciCacheRepoTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private String build(Path context, String... extra) {
        List<String> args = new ArrayList<>(List.of("--context=" + context, "--no-push", "--cache=true",
                "--tar-path=" + tmp.resolve("out-" + System.nanoTime() + ".tar")));
        args.addAll(List.of(extra));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream p = new PrintStream(err, true, StandardCharsets.UTF_8);
        int exit = new CommandLine(new BuildCommand(p, p, new ByteArrayInputStream(new byte[0]), Map.of()))
                .execute(args.toArray(String[]::new));
        String log = err.toString(StandardCharsets.UTF_8);
        assertEquals(0, exit, log);
        return log;
    }

    @Test
    void aSecondBuildFindsEveryStepInTheLayoutAndSkopeoReadsItsEntries() throws IOException {
        Path context = Files.createDirectories(tmp.resolve("context"));
        Files.writeString(context.resolve("a.txt"), "a\n");
        Files.writeString(context.resolve("b.txt"), "b\n");
        Files.writeString(context.resolve("Dockerfile"), "FROM scratch\nCOPY a.txt /a.txt\nCOPY b.txt /b/b.txt\n");
        Path layout = tmp.resolve("layers");

        String first = build(context, "--cache-repo=oci:" + layout);
        assertFalse(first.contains("(cached,"), first);
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        assertEquals(2, index.path("manifests").size(), index.toString());
        for (JsonNode entry : index.path("manifests")) {
            String key = entry.path("annotations").path("org.opencontainers.image.ref.name").asText();
            JsonNode inspected = JSON.readTree(Tools.sh("skopeo --insecure-policy inspect oci:" + layout + ":" + key));
            assertEquals(1, inspected.path("Layers").size(), inspected.toString());
        }

        String second = build(context, "--cache-repo=oci:" + layout);
        assertEquals(2, second.lines().filter(l -> l.contains("STEP") && l.contains("(cached,")).count(), second);

        Files.writeString(context.resolve("b.txt"), "changed\n");
        String third = build(context, "--cache-repo=oci:" + layout);
        assertEquals(1, third.lines().filter(l -> l.contains("STEP") && l.contains("(cached,")).count(),
                "only the unchanged step is found:\n" + third);
        assertEquals(3, JSON.readTree(layout.resolve("index.json").toFile()).path("manifests").size());
    }

    @Test
    void noPushCacheReadsTheLayoutAndAddsNothing() throws IOException {
        Path context = Files.createDirectories(tmp.resolve("context"));
        Files.writeString(context.resolve("a.txt"), "a\n");
        Files.writeString(context.resolve("Dockerfile"), "FROM scratch\nCOPY a.txt /a.txt\n");
        Path layout = tmp.resolve("layers");
        build(context, "--cache-repo=oci:" + layout, "--no-push-cache");
        assertTrue(!Files.exists(layout.resolve("index.json"))
                || JSON.readTree(layout.resolve("index.json").toFile()).path("manifests").isEmpty());
        build(context, "--cache-repo=oci:" + layout);
        String read = build(context, "--cache-repo=oci:" + layout, "--no-push-cache");
        assertTrue(read.contains("(cached,"), read);
    }
}
