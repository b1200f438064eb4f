package dev.kiln.builder.exec;

import dev.kiln.testkit.BusyboxContext;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.app.cli.BuildCommand;
import dev.kiln.builder.engine.Builder;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.Tools;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code kiln build} end to end: a real docker-registry, a busybox base built by kiln itself, skopeo to check. */
class BuildCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static DockerRegistry registry;
    private static Path shared;
    private static String base;

    record Run(int exit, String log) {
    }

    @BeforeAll
    static void startRegistryWithBusyboxBase() throws Exception {
        shared = Files.createTempDirectory("kiln-exec-test");
        registry = DockerRegistry.start(shared.resolve("registry"));
        Path ctx = BusyboxContext.write(shared.resolve("base-ctx"), "");
        base = registry.host() + "/base:1";
        Run run = build("-c", ctx.toString(), "-d", base, "--insecure-registry", registry.host());
        assertEquals(0, run.exit(), run.log());
    }

    @AfterAll
    static void stop() throws IOException {
        if (registry != null) {
            registry.close();
        }
        exec(List.of("rm", "-rf", shared.toString()));
    }

    static Run build(String... args) {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PrintStream err = new PrintStream(log, true, StandardCharsets.UTF_8);
        int exit = new CommandLine(new BuildCommand(err)).execute(args);
        String text = log.toString(StandardCharsets.UTF_8);
        System.err.print(text);
        return new Run(exit, text);
    }

    @Test
    void smallBuildPushesConfigAndLayers(@TempDir Path dir) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("hello.txt"), "hello file\n");
        Files.setAttribute(ctx.resolve("hello.txt"), "unix:mode", 0644);
        Files.createDirectories(ctx.resolve("conf/sub"));
        Files.writeString(ctx.resolve("conf/a.conf"), "a=1\n");
        Files.setAttribute(ctx.resolve("conf/a.conf"), "unix:mode", 0600);
        Files.writeString(ctx.resolve("conf/sub/b.conf"), "b=2\n");
        Files.writeString(ctx.resolve("conf/secret.txt"), "do not ship\n");
        Files.writeString(ctx.resolve(".dockerignore"), "conf/secret.txt\n");
        Files.writeString(ctx.resolve("Dockerfile"), """
                FROM %s
                ARG GREETING=hello
                ENV APP_HOME=/opt/app MODE=prod
                WORKDIR $APP_HOME
                COPY hello.txt ./
                COPY conf/ /etc/app/
                RUN echo "$GREETING from $APP_HOME in $MODE" > run1.txt && chmod 640 run1.txt
                RUN mkdir -p data && cat /etc/app/a.conf /etc/app/sub/b.conf > data/all.conf
                LABEL org.example.name=demo
                RUN mkdir -p /home/u && chown 1000:1000 /home/u
                USER 1000
                RUN id -u > /home/u/uid && echo "$HOME" > /home/u/home
                CMD ["sh", "-c", "cat hello.txt"]
                """.formatted(base));
        String image = registry.host() + "/small:1";
        Path digestFile = dir.resolve("digest");
        long t0 = System.nanoTime();
        String copy = registry.host() + "/small-copy:2";
        Path namesFile = dir.resolve("names");
        Run run = build("-f", ctx.resolve("Dockerfile").toString(), "-c", "dir://" + ctx, "-d", image, "-d", copy,
                "--image-name-with-digest-file", namesFile.toString(),
                "--insecure-registry", registry.host(), "--build-arg", "GREETING=hi", "--label", "extra=yes",
                "--digest-file", digestFile.toString(), "--cache-dir", dir.resolve("cache").toString());
        System.err.printf("small build wall time: %.2fs%n", (System.nanoTime() - t0) / 1e9);
        assertEquals(0, run.exit(), run.log());
        String digest = Files.readString(digestFile);
        assertTrue(digest.startsWith("sha256:"));
        assertEquals(registry.host() + "/small@" + digest + "\n" + registry.host() + "/small-copy@" + digest + "\n",
                Files.readString(namesFile));
        JsonNode copied = JSON.readTree(exec(List.of("skopeo", "inspect", "--tls-verify=false", "docker://" + copy)));
        assertEquals(digest, copied.get("Digest").asText());

        JsonNode config = JSON.readTree(exec(List.of("skopeo", "inspect", "--config", "--tls-verify=false",
                "docker://" + image)));
        JsonNode c = config.get("config");
        assertTrue(c.get("Env").toString().contains("APP_HOME=/opt/app"), c.toString());
        assertTrue(c.get("Env").toString().contains("MODE=prod"), c.toString());
        assertEquals("[\"sh\",\"-c\",\"cat hello.txt\"]", c.get("Cmd").toString());
        assertEquals("/opt/app", c.get("WorkingDir").asText());
        assertEquals("1000", c.get("User").asText());
        assertEquals("demo", c.get("Labels").get("org.example.name").asText());
        assertEquals("yes", c.get("Labels").get("extra").asText());
        assertEquals(14, config.get("history").size(), config.get("history").toString());

        Path rootfs = pullAndExtract(image, dir);
        assertEquals("hello file\n", Files.readString(rootfs.resolve("opt/app/hello.txt")));
        assertEquals(0644, mode(rootfs.resolve("opt/app/hello.txt")));
        assertEquals("a=1\n", Files.readString(rootfs.resolve("etc/app/a.conf")));
        assertEquals(0600, mode(rootfs.resolve("etc/app/a.conf")));
        assertEquals("b=2\n", Files.readString(rootfs.resolve("etc/app/sub/b.conf")));
        assertFalse(Files.exists(rootfs.resolve("etc/app/secret.txt")));
        assertEquals("hi from /opt/app in prod\n", Files.readString(rootfs.resolve("opt/app/run1.txt")));
        assertEquals(0640, mode(rootfs.resolve("opt/app/run1.txt")));
        assertEquals("a=1\nb=2\n", Files.readString(rootfs.resolve("opt/app/data/all.conf")));
        assertTrue(Files.isRegularFile(rootfs.resolve("bin/busybox")));
        assertEquals("1000\n", Files.readString(rootfs.resolve("home/u/uid")));
        assertEquals(1000, Files.getAttribute(rootfs.resolve("home/u/uid"), "unix:uid"));
    }

    @Test
    void multiStageTargetBuildsOnlyNeededStagesAndTarLoads(@TempDir Path dir) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("Dockerfile"), """
                FROM %1$s AS unused
                RUN exit 3
                FROM %1$s AS builder
                RUN echo built > /artifact
                FROM scratch AS final
                COPY --from=builder /artifact /out/artifact
                COPY --from=%1$s /bin/busybox /out/busybox
                FROM final AS after
                RUN exit 4
                FROM %1$s AS parent
                ONBUILD RUN echo triggered > /onbuild.txt
                FROM parent AS child
                RUN cat /onbuild.txt > /seen.txt
                """.formatted(base));
        Path tar = dir.resolve("image.tar");
        Path layout = dir.resolve("layout");
        Run run = build("-c", ctx.toString(), "--target", "final", "--no-push", "--tar-path", tar.toString(),
                "-d", "example.com/multi:1", "--oci-layout-path", layout.toString(),
                "--insecure-registry", registry.host(), "--cache-dir", dir.resolve("cache").toString());
        assertEquals(0, run.exit(), run.log());
        assertFalse(run.log().contains("[unused]"), run.log());
        assertFalse(run.log().contains("exit 4"), run.log());
        Path oci = dir.resolve("from-tar");
        exec(List.of("skopeo", "--insecure-policy", "copy", "docker-archive:" + tar, "oci:" + oci + ":t"));
        Path rootfs = extractLayout(oci);
        assertEquals("built\n", Files.readString(rootfs.resolve("out/artifact")));
        assertFalse(Files.exists(rootfs.resolve("bin/busybox")));
        assertTrue(Files.isRegularFile(rootfs.resolve("out/busybox"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
        Path rootfs2 = extractLayout(layout);
        assertEquals("built\n", Files.readString(rootfs2.resolve("out/artifact")));

        Path childLayout = dir.resolve("child");
        Run child = build("-c", ctx.toString(), "--target", "child", "--no-push", "--oci-layout-path", childLayout.toString(),
                "--insecure-registry", registry.host(), "--cache-dir", dir.resolve("cache").toString());
        assertEquals(0, child.exit(), child.log());
        Path rootfs3 = extractLayout(childLayout);
        assertEquals("triggered\n", Files.readString(rootfs3.resolve("seen.txt")));
    }

    @Test
    void copyAndAddSemanticsFromATarContext(@TempDir Path dir) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("script.sh"), "#!/bin/sh\necho run\n");
        Files.writeString(ctx.resolve("a.txt"), "A\n");
        Files.writeString(ctx.resolve("b.txt"), "B\n");
        Files.createDirectories(ctx.resolve("conf"));
        Files.writeString(ctx.resolve("conf/x.conf"), "x\n");
        Path inner = Files.createDirectories(dir.resolve("arch/inner"));
        Files.writeString(inner.resolve("file.txt"), "from archive\n");
        exec(List.of("tar", "-czf", ctx.resolve("archive.tar.gz").toString(), "-C", dir.resolve("arch").toString(), "."));
        com.sun.net.httpserver.HttpServer http = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        http.createContext("/remote.txt", ex -> {
            byte[] body = "remote\n".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        http.start();
        try {
            Files.writeString(ctx.resolve("Dockerfile"), """
                    FROM %s
                    COPY --chown=1000:1000 --chmod=700 script.sh /usr/local/bin/run
                    COPY *.txt /texts/
                    COPY conf /conf-dir
                    ADD archive.tar.gz /unpacked/
                    ADD http://127.0.0.1:%d/remote.txt /remote/
                    """.formatted(base, http.getAddress().getPort()));
            Path tar = dir.resolve("ctx.tar");
            exec(List.of("tar", "-cf", tar.toString(), "-C", ctx.toString(), "."));
            Path layout = dir.resolve("layout");
            Run run = build("-c", "tar://" + tar, "--no-push", "--oci-layout-path", layout.toString(),
                    "--insecure-registry", registry.host(), "--cache-dir", dir.resolve("cache").toString());
            assertEquals(0, run.exit(), run.log());
            Path rootfs = extractLayout(layout);
            Path script = rootfs.resolve("usr/local/bin/run");
            assertEquals(0700, mode(script));
            assertEquals(1000, Files.getAttribute(script, "unix:uid"));
            assertEquals("A\n", Files.readString(rootfs.resolve("texts/a.txt")));
            assertEquals("B\n", Files.readString(rootfs.resolve("texts/b.txt")));
            assertEquals("x\n", Files.readString(rootfs.resolve("conf-dir/x.conf")));
            assertEquals("from archive\n", Files.readString(rootfs.resolve("unpacked/inner/file.txt")));
            assertEquals("remote\n", Files.readString(rootfs.resolve("remote/remote.txt")));
            assertEquals(0600, mode(rootfs.resolve("remote/remote.txt")));
        } finally {
            http.stop(0);
        }
    }

    @Test
    void scratchStagesGetTheDefaultPath(@TempDir Path dir) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("f.txt"), "f\n");
        Files.writeString(ctx.resolve("Dockerfile"), "FROM scratch\nCOPY f.txt /f.txt\n");
        Path layout = dir.resolve("layout");
        Run run = build("-c", ctx.toString(), "--no-push", "--oci-layout-path", layout.toString(),
                "--cache-dir", dir.resolve("cache").toString());
        assertEquals(0, run.exit(), run.log());
        assertEquals("[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]",
                layoutConfig(layout).get("config").get("Env").toString());
    }

    @Test
    void runGetsHomeFromPasswdAndWorkdirBelongsToTheUser(@TempDir Path dir) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("Dockerfile"), """
                FROM %s
                RUN mkdir -p /etc && printf 'root:x:0:0:root:/root:/bin/sh\\napp:x:1000:1000:app:/home/app:/bin/sh\\n' > /etc/passwd
                RUN echo "$HOME" > /root-home
                USER app
                WORKDIR /work
                RUN echo "$HOME" > /work/app-home
                ENV HOME=/custom
                RUN echo "$HOME" > /work/env-home
                """.formatted(base));
        Path layout = dir.resolve("layout");
        Run run = build("-c", ctx.toString(), "--no-push", "--oci-layout-path", layout.toString(),
                "--insecure-registry", registry.host(), "--cache-dir", dir.resolve("cache").toString());
        assertEquals(0, run.exit(), run.log());
        Path rootfs = extractLayout(layout);
        assertEquals("/root\n", Files.readString(rootfs.resolve("root-home")));
        assertEquals(1000, Files.getAttribute(rootfs.resolve("work"), "unix:uid"));
        assertEquals(1000, Files.getAttribute(rootfs.resolve("work"), "unix:gid"));
        assertEquals("/home/app\n", Files.readString(rootfs.resolve("work/app-home")));
        assertEquals("/custom\n", Files.readString(rootfs.resolve("work/env-home")));
    }

    @Test
    void singleSnapshotMakesOneLayerForTheStageAndTagDigestFileNamesTheTag(@TempDir Path dir) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("x.txt"), "x\n");
        Files.writeString(ctx.resolve("Dockerfile"), """
                FROM %s
                RUN echo a > /a
                RUN echo b > /b
                RUN rm /a
                COPY x.txt /x.txt
                """.formatted(base));
        Path layout = dir.resolve("layout");
        Path names = dir.resolve("names");
        String image = registry.host() + "/single:v3";
        Run run = build("-c", ctx.toString(), "-d", image, "--single-snapshot", "--oci-layout-path", layout.toString(),
                "--image-name-tag-with-digest-file", names.toString(),
                "--insecure-registry", registry.host(), "--cache-dir", dir.resolve("cache").toString());
        assertEquals(0, run.exit(), run.log());
        JsonNode config = layoutConfig(layout);
        int baseLayers = JSON.readTree(exec(List.of("skopeo", "inspect", "--tls-verify=false", "docker://" + base)))
                .get("Layers").size();
        assertEquals(baseLayers + 1, config.get("rootfs").get("diff_ids").size(), config.toString());
        Path rootfs = extractLayout(layout);
        assertTrue(Files.exists(rootfs.resolve("b")) && Files.exists(rootfs.resolve("x.txt")));
        assertFalse(Files.exists(rootfs.resolve("a")));
        String digest = JSON.readTree(layout.resolve("index.json").toFile()).get("manifests").get(0).get("digest").asText();
        assertEquals(image + "@" + digest + "\n", Files.readString(names));
    }

    private static JsonNode layoutConfig(Path layout) throws IOException {
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        JsonNode manifest = JSON.readTree(blob(layout, index.get("manifests").get(0).get("digest").asText()).toFile());
        return JSON.readTree(blob(layout, manifest.get("config").get("digest").asText()).toFile());
    }

    @Test
    void reproducibleBuildsGiveTheSameDigestAlsoWithZstd(@TempDir Path dir) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("f.txt"), "same\n");
        Files.writeString(ctx.resolve("Dockerfile"), "FROM scratch\nCOPY f.txt /f.txt\nENV A=1\n");
        for (String compression : List.of("gzip", "zstd")) {
            List<String> digests = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Path digest = dir.resolve("digest-" + compression + i);
                Files.setLastModifiedTime(ctx.resolve("f.txt"), java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + i * 5000L));
                Run run = build("-c", ctx.toString(), "--no-push", "--reproducible", "--compression", compression,
                        "--digest-file", digest.toString(), "--cache-dir", dir.resolve("cache").toString());
                assertEquals(0, run.exit(), run.log());
                digests.add(Files.readString(digest));
            }
            assertEquals(digests.get(0), digests.get(1), compression);
        }
    }

    @Test
    void runMountsAndHeredocs(@TempDir Path dir) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx/conf"));
        Files.writeString(ctx.resolve("a.conf"), "a=1\n");
        Files.writeString(dir.resolve("ctx/Dockerfile"), """
                FROM %1$s AS gen
                RUN echo generated > /gen.txt
                FROM %1$s
                RUN --mount=type=bind,source=conf,target=/mnt/conf cat /mnt/conf/a.conf > /from-context
                RUN --mount=type=bind,from=gen,source=/gen.txt,target=/mnt/gen.txt cat /mnt/gen.txt > /from-stage
                RUN --mount=type=cache,target=/var/cache/x echo cached > /var/cache/x/file
                RUN --mount=type=cache,target=/var/cache/x cat /var/cache/x/file > /from-cache
                ARG WHO=world
                COPY <<EOF /inline.txt
                hello $WHO
                EOF
                RUN <<EOF
                echo one > /heredoc-script
                echo two >> /heredoc-script
                EOF
                RUN cat > /heredoc-cat <<EOF
                cat $WHO
                EOF
                """.formatted(base));
        Path layout = dir.resolve("layout");
        Run run = build("-c", dir.resolve("ctx").toString(), "--no-push", "--oci-layout-path", layout.toString(),
                "--insecure-registry", registry.host(), "--cache-dir", dir.resolve("cache").toString());
        assertEquals(0, run.exit(), run.log());
        Path rootfs = extractLayout(layout);
        assertEquals("a=1\n", Files.readString(rootfs.resolve("from-context")));
        assertEquals("generated\n", Files.readString(rootfs.resolve("from-stage")));
        assertEquals("cached\n", Files.readString(rootfs.resolve("from-cache")));
        assertEquals("hello world\n", Files.readString(rootfs.resolve("inline.txt")));
        assertEquals("one\ntwo\n", Files.readString(rootfs.resolve("heredoc-script")));
        assertEquals("cat world\n", Files.readString(rootfs.resolve("heredoc-cat")));
        assertFalse(Files.exists(rootfs.resolve("mnt/conf/a.conf")));
        assertFalse(Files.exists(rootfs.resolve("var/cache/x/file")));
    }

    @Test
    void missingContextFileFailsNamingTheLineAndPushesNothing(@TempDir Path dir) throws Exception {
        assertFails(dir, "FROM %s\nENV A=1\nCOPY nope.txt /\n", "Dockerfile:3", "failmissing");
    }

    @Test
    void aMissingDockerfileSaysWhereItLooked(@TempDir Path dir) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Run run = build("-c", ctx.toString(), "-f", "Dockerfile.prod", "--no-push");
        assertNotEquals(0, run.exit(), run.log());
        assertTrue(run.log().contains("cannot read Dockerfile Dockerfile.prod: no file at " + ctx.resolve("Dockerfile.prod")),
                run.log());
    }

    @Test
    void aDryRunEndsSayingNothingWasBuilt(@TempDir Path dir) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("Dockerfile"), "FROM scratch\nENV A=1\n");
        Run run = build("-c", ctx.toString(), "--dry-run", "--cache", "--cache-repo", registry.host() + "/drycache",
                "--insecure-registry", registry.host(), "--cache-dir", dir.resolve("cache").toString(), "--no-push");
        assertEquals(0, run.exit(), run.log());
        assertTrue(run.log().lines().anyMatch(l -> l.matches(".*build done in [0-9.]+s \\(dry run: nothing was built or pushed\\)")),
                run.log());
        assertFalse(run.log().contains("null"), run.log());
    }

    @Test
    void unknownInstructionFails(@TempDir Path dir) throws Exception {
        assertFails(dir, "FROM %s\nFROBNICATE x\n", ":2", "failunknown");
    }

    @Test
    void failingRunFailsNamingTheLineAndPushesNothing(@TempDir Path dir) throws Exception {
        assertFails(dir, "FROM %s\nRUN echo ok > /ok\nRUN exit 7\nCMD [\"sh\"]\n", "Dockerfile:3", "failrun");
    }

    @Test
    void copyFromOutsideTheContextIsRejected(@TempDir Path dir) throws Exception {
        assertFails(dir, "FROM %s\nCOPY ../secret /x\n", "Dockerfile:2", "failoutside");
    }

    private void assertFails(Path dir, String dockerfile, String expected, String repo) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(dir.resolve("secret"), "outside\n");
        Files.writeString(ctx.resolve("Dockerfile"), dockerfile.formatted(base));
        Run run = build("-c", ctx.toString(), "-d", registry.host() + "/" + repo + ":1",
                "--insecure-registry", registry.host(), "--cache-dir", dir.resolve("cache").toString(), "--verbosity", "debug");
        assertNotEquals(0, run.exit(), run.log());
        String last = run.log().lines().filter(l -> l.startsWith("error:")).findFirst().orElse("");
        assertTrue(last.contains(expected), run.log());
        String catalog = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://" + registry.host()
                + "/v2/_catalog")).build(), HttpResponse.BodyHandlers.ofString()).body();
        assertFalse(catalog.contains(repo), catalog);
        // this build's own directory, from its debug log: other builds on the machine may be running meanwhile
        String buildDir = run.log().lines().filter(l -> l.contains("build dir /")).findFirst()
                .map(l -> l.substring(l.indexOf("build dir ") + "build dir ".length()).strip())
                .orElseThrow(() -> new AssertionError("the debug log names the build dir:\n" + run.log()));
        assertTrue(Builder.awaitBuildDirsRemoved(Duration.ofMinutes(2)), "build dirs still being removed");
        assertFalse(Files.exists(Path.of(buildDir)), "build dir left behind: " + buildDir);
    }

    private static Path pullAndExtract(String image, Path dir) throws Exception {
        Path oci = dir.resolve("pulled");
        new Skopeo(dir.resolve("skopeo")).copyPlainHttp("docker://" + image, "oci:" + oci + ":t");
        return extractLayout(oci);
    }

    /** Unpacks under the shared dir (removed with rm -rf at the end: the layers hold absolute symlinks). */
    private static Path extractLayout(Path oci) throws Exception {
        Path rootfs = Files.createTempDirectory(shared, "rootfs-");
        JsonNode index = JSON.readTree(oci.resolve("index.json").toFile());
        String manifestDigest = index.get("manifests").get(0).get("digest").asText();
        JsonNode manifest = JSON.readTree(blob(oci, manifestDigest).toFile());
        for (JsonNode layer : manifest.get("layers")) {
            exec(List.of("tar", "-xf", blob(oci, layer.get("digest").asText()).toString(), "-C", rootfs.toString()));
        }
        return rootfs;
    }

    private static Path blob(Path oci, String digest) {
        return oci.resolve("blobs/sha256/" + digest.substring("sha256:".length()));
    }

    private static int mode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode") & 07777;
    }

    private static String exec(List<String> command) {
        return Tools.run(command, Map.of(), 120).requireSuccess().stdout();
    }

    @Test
    void inPlaceOutsideAnExecutorContainerIsRefusedBeforeAnythingIsFetched() {
        org.junit.jupiter.api.Assumptions.assumeFalse("1".equals(System.getenv("KILN_EXECUTOR_CONTAINER")),
                "running in an executor container");
        // an unreachable context: the refusal must come before the build tries to fetch it
        Run run = build("-c", "git://127.0.0.1:1/nothing.git", "--sandbox", "in-place", "--no-push");

        assertEquals(1, run.exit(), run.log());
        assertEquals("error: --sandbox in-place unpacks the base image over this machine's own / and runs RUN there, so it"
                + " only runs in a dedicated executor container: set KILN_EXECUTOR_CONTAINER=1 there (the executor image"
                + " does), or pass --force\n", run.log());
    }
}
