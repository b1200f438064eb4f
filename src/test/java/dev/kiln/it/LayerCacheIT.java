package dev.kiln.it;

import dev.kiln.testkit.BusyboxContext;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.app.cli.BuildCommand;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.Tools;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Kiln's own registry (the packaged server) as a build's cache repository and destination: a rebuild
 * after changing the last COPY source uploads only that layer and the config, everything else is
 * found by digest or mounted from the cache namespace.
 */
class LayerCacheIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern PUSHED = Pattern.compile("pushed (\\S+): uploaded (\\d+) bytes in (\\d+) blobs");
    @TempDir
    static Path work;
    static KilnProcess kiln;
    static String base;

    @BeforeAll
    static void startKilnWithABusyboxBase() throws Exception {
        kiln = KilnProcess.start("layer-cache", work.resolve("store"));
        Path baseCtx = BusyboxContext.write(work.resolve("base"), "");
        base = kiln.hostPort() + "/local/base:1";
        String log = build("-c", baseCtx.toString(), "-d", base);
        assertTrue(log.contains("build done"), log);
    }

    @AfterAll
    static void stop() {
        if (kiln != null) {
            kiln.stop();
        }
    }

    static String build(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--insecure-registry", kiln.hostPort()));
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        int exit = new CommandLine(new BuildCommand(new PrintStream(log, true, StandardCharsets.UTF_8)))
                .execute(all.toArray(String[]::new));
        String text = log.toString(StandardCharsets.UTF_8);
        System.err.print(text);
        assertEquals(0, exit, text);
        return text;
    }

    @Test
    void rebuildAfterChangingTheLastCopyUploadsOnlyTheConfigAndMountsThatLayerFromTheCache() throws Exception {
        Path ctx = Files.createDirectories(work.resolve("app"));
        Files.writeString(ctx.resolve("lib.txt"), "library\n");
        Files.writeString(ctx.resolve("app.txt"), "version 1\n");
        Files.writeString(ctx.resolve("Dockerfile"), """
                FROM %s
                WORKDIR /srv
                COPY lib.txt .
                RUN echo ran-setup && seq 1 20000 > numbers.txt
                COPY app.txt .
                CMD ["cat", "/srv/app.txt"]
                """.formatted(base));
        String image = kiln.hostPort() + "/local/app:1";
        String[] args = {"-c", ctx.toString(), "-d", image, "--cache", "--cache-repo", kiln.hostPort() + "/cache/app",
                "--cache-dir", work.resolve("cache-dir").toString()};
        String first = build(args);
        assertTrue(first.contains("| ran-setup"), first);

        Files.writeString(ctx.resolve("app.txt"), "version 2\n");
        String second = build(args);
        assertFalse(second.contains("| ran-setup"), second);
        Matcher pushed = PUSHED.matcher(second);
        assertTrue(pushed.find(), second);

        JsonNode manifest = JSON.readTree(skopeo("inspect", "--raw", "--tls-verify=false", "docker://" + image));
        JsonNode layers = manifest.get("layers");
        long changedLayer = layers.get(layers.size() - 1).get("size").asLong();
        long config = manifest.get("config").get("size").asLong();
        // the changed layer went up once, to the cache repository, and the image mounts it from there
        assertEquals(config, Long.parseLong(pushed.group(2)), "only the config: " + second);
        assertEquals(1, Integer.parseInt(pushed.group(3)), second);
        String changedDigest = layers.get(layers.size() - 1).get("digest").asText();
        assertTrue(second.contains("not pushed " + changedDigest.substring(0, 19) + " to local/app: mounted from cache/app"),
                "the changed layer (" + changedLayer + " bytes) mounted from the cache: " + second);
        assertEquals("version 2\n", extractFile(image, "srv/app.txt"));
    }

    private static String skopeo(String... args) {
        return new Skopeo(work.resolve("skopeo")).run(args).stdout();
    }

    /** Copies the image to an OCI layout with skopeo and reads one file from its last layer. */
    private static String extractFile(String image, String path) throws Exception {
        Path layout = work.resolve("layout-" + System.nanoTime());
        skopeo("copy", "--src-tls-verify=false", "docker://" + image, "oci:" + layout + ":img");
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        String manifestDigest = index.get("manifests").get(0).get("digest").asText();
        JsonNode manifest = JSON.readTree(layout.resolve("blobs/sha256/" + manifestDigest.substring(7)).toFile());
        JsonNode layers = manifest.get("layers");
        String last = layers.get(layers.size() - 1).get("digest").asText().substring(7);
        ExecResult tar = Tools.run(List.of("tar", "-xzOf", layout.resolve("blobs/sha256/" + last).toString(), path), Map.of(), 60);
        assertEquals(0, tar.exitCode(), tar.output());
        return tar.stdout();
    }
}
