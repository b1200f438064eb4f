package dev.kiln.builder.exec;

import dev.kiln.testkit.BusyboxContext;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.kiln.app.cli.BuildCommand;
import dev.kiln.builder.engine.Builder;
import dev.kiln.testkit.GitDaemon;
import dev.kiln.testkit.Ports;
import dev.kiln.testkit.Tools;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code kiln build} with remote contexts, secrets and the log flags, end to end (no registry needed). */
class BuildInputsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String FILE_SECRET = "s3cr3t-file-value-1234";
    private static final String ENV_SECRET = "env-secret-value-5678";

    record Run(int exit, String log) {
        /** The build dir the executor announced at debug level. */
        Path buildDir() {
            return log.lines().filter(l -> l.contains("build dir ")).findFirst()
                    .map(l -> Path.of(l.substring(l.indexOf("build dir ") + "build dir ".length()).replaceAll("\".*", "")))
                    .orElseThrow(() -> new AssertionError("no build dir in the log:\n" + log));
        }
    }

    static Run build(InputStream stdin, Map<String, String> env, String... args) {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PrintStream err = new PrintStream(log, true, StandardCharsets.UTF_8);
        int exit = new CommandLine(new BuildCommand(err, stdin, env)).execute(args);
        String text = log.toString(StandardCharsets.UTF_8);
        System.err.print(text);
        return new Run(exit, text);
    }

    /** Build dirs go after the result ({@link Builder}): waited for, then none may be left. */
    static void assertBuildDirGone(Path buildDir) throws InterruptedException {
        assertTrue(Builder.awaitBuildDirsRemoved(Duration.ofMinutes(2)), "build dirs still being removed");
        assertFalse(Files.exists(buildDir), "build dir left behind: " + buildDir);
    }

    static Run build(String... args) {
        return build(InputStream.nullInputStream(), Map.of(), args);
    }

    private static Path busyboxContext(Path dir, String runs) throws IOException {
        return BusyboxContext.write(dir.resolve("ctx"), runs);
    }

    @Test
    void secretsAreReadableInRunButNeverInLayersConfigOrLog(@TempDir Path dir) throws Exception {
        Path ctx = busyboxContext(dir, """
                RUN --mount=type=secret,id=token sha256sum /run/secrets/token | cut -c1-64 > /token.sha && echo "token is $(cat /run/secrets/token)"
                RUN --mount=type=secret,id=api,env=API_KEY,target=/etc/api.key,mode=0440 test "$(cat /etc/api.key)" = "$API_KEY" && echo -n "$API_KEY" | sha256sum | cut -c1-64 > /api.sha && stat -c %a /etc/api.key > /api.mode
                RUN --mount=type=secret,id=optional echo "an absent optional secret is skipped" && test ! -e /run/secrets/optional
                RUN ls /run/secrets 2>/dev/null > /after.txt || echo gone > /after.txt
                """);
        Path secretFile = dir.resolve("token.txt");
        Files.writeString(secretFile, FILE_SECRET);
        Path layout = dir.resolve("layout");
        Path archive = dir.resolve("image.tar");
        Run run = build(InputStream.nullInputStream(), Map.of("KILN_TEST_API", ENV_SECRET),
                "-c", ctx.toString(), "--no-push", "--oci-layout-path", layout.toString(), "--tar-path", archive.toString(),
                "--secret", "id=token,src=" + secretFile, "--secret", "id=api,env=KILN_TEST_API");
        assertEquals(0, run.exit(), run.log());
        assertTrue(run.log().contains("token is ****"), run.log());
        assertFalse(run.log().contains(FILE_SECRET) || run.log().contains(ENV_SECRET), run.log());

        List<Path> blobs;
        try (var files = Files.list(layout.resolve("blobs/sha256"))) {
            blobs = files.toList();
        }
        Map<String, byte[]> rootfs = new java.util.TreeMap<>();
        for (Path blob : blobs) {
            byte[] bytes = Files.readAllBytes(blob);
            if (bytes.length > 2 && (bytes[0] & 0xff) == 0x1f && (bytes[1] & 0xff) == 0x8b) {
                try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
                    bytes = in.readAllBytes();
                }
                rootfs.putAll(tarEntries(bytes));
            }
            String text = new String(bytes, StandardCharsets.ISO_8859_1);
            assertFalse(text.contains(FILE_SECRET) || text.contains(ENV_SECRET), "a secret is in blob " + blob);
        }
        String archiveText = new String(Files.readAllBytes(archive), StandardCharsets.ISO_8859_1);
        assertFalse(archiveText.contains(FILE_SECRET) || archiveText.contains(ENV_SECRET), "a secret is in the docker archive");
        assertTrue(rootfs.keySet().stream().noneMatch(name -> name.contains("secrets/") || name.contains("api.key")),
                rootfs.keySet().toString());
        assertEquals(sha256(FILE_SECRET) + "\n", new String(rootfs.get("token.sha"), StandardCharsets.UTF_8));
        assertEquals(sha256(ENV_SECRET) + "\n", new String(rootfs.get("api.sha"), StandardCharsets.UTF_8));
        assertEquals("440\n", new String(rootfs.get("api.mode"), StandardCharsets.UTF_8));
        assertEquals("gone\n", new String(rootfs.get("after.txt"), StandardCharsets.UTF_8));
    }

    @Test
    void aMissingRequiredSecretFailsTheRun(@TempDir Path dir) throws Exception {
        Path ctx = busyboxContext(dir, "RUN --mount=type=secret,id=deploy-key,required=true cat /run/secrets/deploy-key\n");
        Run run = build("-c", ctx.toString(), "--no-push", "--verbosity", "debug");
        assertNotEquals(0, run.exit(), run.log());
        String error = run.log().lines().filter(l -> l.startsWith("error:")).findFirst().orElse("");
        assertTrue(error.contains("Dockerfile:4") && error.contains("secret deploy-key not found"), run.log());
        assertBuildDirGone(run.buildDir());

        Run badFlag = build("-c", ctx.toString(), "--no-push", "--secret", "id=x,src=" + dir.resolve("absent"));
        assertNotEquals(0, badFlag.exit());
        assertTrue(badFlag.log().startsWith("error: --secret id=x: file "), badFlag.log());
    }

    @Test
    void gitContextWithSubPathAndADockerfileFromAUrl(@TempDir Path dir) throws Exception {
        Path repos = Files.createDirectories(dir.resolve("repos"));
        Path work = repos.resolve("work");
        GitDaemon.git(repos, "init", "--quiet", work.toString());
        Files.createDirectories(work.resolve("app"));
        Files.writeString(work.resolve("app/hello.txt"), "hello from git\n");
        Files.writeString(work.resolve("outside.txt"), "not in the sub-path\n");
        GitDaemon.git(work, "add", ".");
        GitDaemon.git(work, "commit", "--quiet", "-m", "app");
        GitDaemon.git(repos, "clone", "--quiet", "--bare", work.toString(), repos.resolve("app.git").toString());
        Files.writeString(dir.resolve("Dockerfile.remote"), "FROM scratch\nCOPY . /srv/\n");
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/Dockerfile", exchange -> {
            byte[] body = Files.readAllBytes(dir.resolve("Dockerfile.remote"));
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        try (GitDaemon daemon = GitDaemon.serve(repos)) {
            String dockerfileUrl = "http://127.0.0.1:" + server.getAddress().getPort() + "/Dockerfile";
            Path layout = dir.resolve("layout");
            Run run = build("-c", daemon.context("app.git") + "#refs/heads/main", "--context-sub-path", "app",
                    "-f", dockerfileUrl, "--insecure", "--no-push", "--oci-layout-path", layout.toString(),
                    "--verbosity", "debug");
            assertEquals(0, run.exit(), run.log());
            Map<String, byte[]> files = layerFiles(layout);
            assertEquals("hello from git\n", new String(files.get("srv/hello.txt"), StandardCharsets.UTF_8));
            assertFalse(files.containsKey("srv/outside.txt"), files.keySet().toString());
            assertBuildDirGone(run.buildDir());

            Run plainHttp = build("-c", daemon.context("app.git"), "-f", dockerfileUrl, "--no-push");
            assertNotEquals(0, plainHttp.exit());
            assertTrue(plainHttp.log().contains("pass --insecure"), plainHttp.log());

            Run wrongRef = build("-c", daemon.context("app.git") + "#refs/heads/nope", "--no-push", "--verbosity", "debug");
            assertNotEquals(0, wrongRef.exit());
            List<String> errors = wrongRef.log().lines().filter(l -> l.startsWith("error:")).toList();
            assertEquals(1, errors.size(), wrongRef.log());
            assertTrue(errors.get(0).contains("nope"), errors.get(0));
            assertBuildDirGone(wrongRef.buildDir());
        } finally {
            server.stop(0);
        }
    }

    @Test
    void tarFromStdinAndBadContextsFailInOneLine(@TempDir Path dir) throws Exception {
        Path src = Files.createDirectories(dir.resolve("src"));
        Files.writeString(src.resolve("Dockerfile"), "FROM scratch\nCOPY data.txt /\n");
        Files.writeString(src.resolve("data.txt"), "from stdin\n");
        exec(dir, "tar", "-czf", "ctx.tar.gz", "-C", "src", ".");
        Path layout = dir.resolve("layout");
        Run run = build(Files.newInputStream(dir.resolve("ctx.tar.gz")), Map.of(), "-c", "tar://stdin", "--no-push",
                "--oci-layout-path", layout.toString());
        assertEquals(0, run.exit(), run.log());
        assertEquals("from stdin\n", new String(layerFiles(layout).get("data.txt"), StandardCharsets.UTF_8));

        int closed = Ports.freePort();
        for (String context : List.of(dir.resolve("absent").toString(), "tar://" + dir.resolve("absent.tar.gz"),
                "http://127.0.0.1:" + closed + "/ctx.tar.gz", "ftp://example/ctx")) {
            Run failed = build("-c", context, "--no-push", "--insecure");
            assertNotEquals(0, failed.exit(), context);
            assertEquals(1, failed.log().lines().count(), failed.log());
            assertTrue(failed.log().startsWith("error: "), failed.log());
        }
    }

    @Test
    void jsonLogsCarryLevelTimeAndStepDurationsAndVerbosityFilters(@TempDir Path dir) throws Exception {
        Path ctx = busyboxContext(dir, "RUN echo built > /built\n");
        Run json = build("-c", ctx.toString(), "--no-push", "--log-format", "json", "--verbosity", "debug");
        assertEquals(0, json.exit(), json.log());
        List<JsonNode> lines = new ArrayList<>();
        for (String line : json.log().lines().toList()) {
            JsonNode node = JSON.readTree(line);
            assertTrue(node.hasNonNull("level") && node.hasNonNull("msg") && node.hasNonNull("time"), line);
            assertTrue(node.get("time").asText().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ"), line);
            lines.add(node);
        }
        assertTrue(lines.stream().anyMatch(n -> n.get("level").asText().equals("debug")), json.log());
        assertTrue(lines.stream().anyMatch(n -> n.get("level").asText().equals("info")
                && n.get("msg").asText().matches("\\[0\\] STEP 4/4: RUN echo built > /built \\(\\d+\\.\\d\\ds\\)")), json.log());

        Run quiet = build("-c", ctx.toString(), "--no-push", "--verbosity", "error");
        assertEquals(0, quiet.exit(), quiet.log());
        assertEquals("", quiet.log());

        Run info = build("-c", ctx.toString(), "--no-push");
        assertTrue(info.log().contains("STEP 4/4") && !info.log().contains("debug:"), info.log());

        Run failing = build("-c", ctx.toString(), "--no-push", "--log-format", "json", "--verbosity", "error",
                "--secret", "id=x,env=NOT_SET_ANYWHERE");
        assertNotEquals(0, failing.exit());
        JsonNode error = JSON.readTree(failing.log());
        assertEquals("fatal", error.get("level").asText());
        assertTrue(error.get("msg").asText().contains("NOT_SET_ANYWHERE"), failing.log());

        Run badLevel = build("-c", ctx.toString(), "--no-push", "--verbosity", "loud");
        assertNotEquals(0, badLevel.exit());
        assertTrue(badLevel.log().contains("unknown --verbosity loud"), badLevel.log());
    }

    private static String sha256(String text) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    static Map<String, byte[]> layerFiles(Path layout) throws IOException {
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        JsonNode manifest = JSON.readTree(blob(layout, index.get("manifests").get(0).get("digest").asText()).toFile());
        Map<String, byte[]> files = new java.util.TreeMap<>();
        for (JsonNode layer : manifest.get("layers")) {
            try (InputStream in = new GZIPInputStream(Files.newInputStream(blob(layout, layer.get("digest").asText())))) {
                files.putAll(tarEntries(in.readAllBytes()));
            }
        }
        return files;
    }

    private static Path blob(Path layout, String digest) {
        return layout.resolve("blobs/sha256/" + digest.substring("sha256:".length()));
    }

    /** Regular files of an uncompressed tar, by name without a leading {@code ./} or {@code /}. */
    static Map<String, byte[]> tarEntries(byte[] tar) throws IOException {
        Map<String, byte[]> files = new java.util.TreeMap<>();
        try (var in = new org.apache.commons.compress.archivers.tar.TarArchiveInputStream(new ByteArrayInputStream(tar))) {
            for (var entry = in.getNextEntry(); entry != null; entry = in.getNextEntry()) {
                String name = entry.getName().replaceFirst("^\\./", "").replaceFirst("^/", "");
                files.put(name, entry.isFile() ? in.readAllBytes() : new byte[0]);
            }
        }
        return files;
    }

    private static void exec(Path dir, String... command) {
        Tools.run(dir, List.of(command), Map.of(), 60).requireSuccess();
    }
}
