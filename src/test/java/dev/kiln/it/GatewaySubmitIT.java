package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.Tools;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code kiln submit} (its own JVM, no Quarkus) against the packaged gateway with an htpasswd file, checked with skopeo. */
class GatewaySubmitIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String USER = "builder";
    private static final String PASSWORD = "p4ss word";

    @TempDir
    static Path work;

    static KilnProcess kiln;
    static Skopeo skopeo;

    @BeforeAll
    static void start() throws Exception {
        ExecResult hash = Tools.run(List.of(Tools.require("htpasswd", "apache2-utils").toString(), "-Bbn", USER, PASSWORD), Map.of(), 30);
        assertEquals(0, hash.exitCode(), hash.output());
        Path htpasswd = work.resolve("htpasswd");
        Files.write(htpasswd, hash.stdoutBytes());
        kiln = KilnProcess.start("gateway-submit", work.resolve("store"), "--htpasswd", htpasswd.toString(),
                "--max-concurrent-builds", "1");
        skopeo = new Skopeo(work.resolve("skopeo"));
    }

    @AfterAll
    static void stop() {
        if (kiln != null) {
            kiln.stop();
        }
    }

    private static ExecResult submit(Map<String, String> env, String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", KilnProcess.jar().toString(), "submit"));
        command.addAll(List.of(args));
        return Tools.run(command, env, 300);
    }

    private static Path context(String name, String dockerfile, Map<String, String> files) throws Exception {
        Path dir = Files.createDirectories(work.resolve(name));
        Files.writeString(dir.resolve("Dockerfile"), dockerfile);
        for (Map.Entry<String, String> f : files.entrySet()) {
            Files.createDirectories(dir.resolve(f.getKey()).getParent());
            Files.writeString(dir.resolve(f.getKey()), f.getValue());
        }
        return dir;
    }

    @Test
    void submitStreamsTheContextFollowsTheLogAndThePushedImageIsThere() throws Exception {
        Path ctx = context("app", "FROM scratch\nARG NAME\nCOPY app/ /app/\nLABEL name=$NAME\n",
                Map.of("app/run.sh", "echo hi\n", "app/notes.tmp", "ignored\n", ".dockerignore", "**/*.tmp\n"));
        String image = kiln.hostPort() + "/local/submitted:1";
        ExecResult result = submit(Map.of(), ctx.toString(), "-t", image, "--build-arg", "NAME=demo",
                "--gateway", kiln.baseUrl(), "--username", USER, "--password", PASSWORD);
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.stdout().contains("STEP 3/4: COPY app/ /app/"), result.output());
        Matcher succeeded = Pattern.compile("build ([0-9a-f]{20}) succeeded: (sha256:[0-9a-f]{64})").matcher(result.stderr());
        assertTrue(succeeded.find(), result.output());
        String digest = succeeded.group(2);

        JsonNode inspected = JSON.readTree(skopeo.run("inspect", "--tls-verify=false", "docker://" + image).stdout());
        assertEquals(digest, inspected.get("Digest").asText());
        assertEquals("demo", inspected.get("Labels").get("name").asText());
        assertEquals(1, inspected.get("Layers").size());

        // the ignored file never left the client: the layer holds run.sh only
        Path layout = work.resolve("pulled");
        skopeo.run("copy", "--src-tls-verify=false", "docker://" + image, "oci:" + layout + ":x");
        String layer = inspected.get("Layers").get(0).asText();
        ExecResult listing = Tools.run(List.of("tar", "-tzf", layout.resolve("blobs/sha256/" + layer.substring(7)).toString()),
                Map.of(), 30);
        assertEquals(0, listing.exitCode(), listing.output());
        assertTrue(listing.stdout().contains("app/run.sh"), listing.stdout());
        assertTrue(!listing.stdout().contains("notes.tmp"), listing.stdout());
    }

    @Test
    void credentialsComeFromTheDockerConfigAndAFailedBuildExitsOne() throws Exception {
        Path config = Files.createDirectories(work.resolve("docker"));
        String auth = Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8));
        Files.writeString(config.resolve("config.json"), "{\"auths\":{\"" + kiln.hostPort() + "\":{\"auth\":\"" + auth + "\"}}}");
        Path ctx = context("broken", "FROM scratch\nCOPY missing.txt /\n", Map.of("present.txt", "x\n"));
        ExecResult failed = submit(Map.of("DOCKER_CONFIG", config.toString()), ctx.toString(),
                "-t", kiln.hostPort() + "/local/never:1", "--gateway", kiln.baseUrl());
        assertEquals(1, failed.exitCode(), failed.output());
        assertTrue(failed.stderr().contains("failed: Dockerfile:2: COPY missing.txt /"), failed.output());

        ExecResult refused = submit(Map.of("DOCKER_CONFIG", work.resolve("empty-config").toString()), ctx.toString(),
                "--gateway", kiln.baseUrl());
        assertEquals(1, refused.exitCode(), refused.output());
        assertTrue(refused.stderr().contains("Authentication required (HTTP 401)"), refused.output());
    }
}
