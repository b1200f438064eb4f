package dev.kiln.builder.cache;

import dev.kiln.testkit.BusyboxContext;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.app.cli.BuildCommand;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.Skopeo;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The per-step layer cache through {@code kiln build --cache}, with a real docker-registry as the
 * cache repository and a busybox base built by kiln itself. Which steps ran is read from the build
 * log: a step served from the cache says "cached", and a RUN that ran prints its output.
 */
class LayerCacheBuildTest {
    private static final Pattern STEP = Pattern.compile("^\\[[^]]+] STEP (\\d+)/\\d+: (.*) \\((cached, )?[0-9.]+s\\)$",
            Pattern.MULTILINE);
    private static final Pattern PLAN = Pattern.compile("^\\[[^]]+] STEP (\\d+)/\\d+: (.*)  (HIT |MISS) .*$",
            Pattern.MULTILINE);
    private static DockerRegistry registry;
    private static Path shared;
    private static String base;

    @TempDir
    Path dir;
    Path ctx;
    String cacheRepo;

    record Run(int exit, String log, String out) {
        /** Each filesystem step's instruction (metadata steps are never cached: they cost nothing) and whether it came from the cache, in order. */
        Map<String, Boolean> cached() {
            Map<String, Boolean> steps = new LinkedHashMap<>();
            Matcher m = STEP.matcher(log);
            while (m.find()) {
                if (m.group(2).matches("(RUN|COPY|ADD|WORKDIR) .*")) {
                    steps.put(m.group(2), m.group(3) != null);
                }
            }
            return steps;
        }
    }

    @BeforeAll
    static void startRegistryWithBusyboxBase() throws Exception {
        shared = Files.createTempDirectory("kiln-cache-test");
        registry = DockerRegistry.start(shared.resolve("registry"));
        Path baseCtx = BusyboxContext.write(shared.resolve("base-ctx"), """
                RUN mkdir -p /etc && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo gone > /etc/obsolete
                """);
        base = registry.host() + "/base:1";
        Run run = build("-c", baseCtx.toString(), "-d", base, "--insecure-registry", registry.host());
        assertEquals(0, run.exit(), run.log());
    }

    @AfterAll
    static void stop() throws IOException, InterruptedException {
        if (registry != null) {
            registry.close();
        }
        new ProcessBuilder("rm", "-rf", shared.toString()).start().waitFor();
    }

    @BeforeEach
    void context() throws IOException {
        ctx = Files.createDirectories(dir.resolve("ctx"));
        cacheRepo = registry.host() + "/cache-" + dir.getFileName().toString().toLowerCase().replaceAll("[^a-z0-9]", "");
    }

    static Run build(String... args) {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int exit = new CommandLine(new BuildCommand(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(log, true, StandardCharsets.UTF_8))).execute(args);
        String text = log.toString(StandardCharsets.UTF_8);
        System.err.print(text);
        return new Run(exit, text, out.toString(StandardCharsets.UTF_8));
    }

    private Run cachedBuild(String... extra) {
        List<String> args = new ArrayList<>(List.of("-c", ctx.toString(), "--cache", "--cache-repo", cacheRepo,
                "--insecure-registry", registry.host(), "--reproducible", "--cache-dir", dir.resolve("cache-dir").toString(),
                "-d", registry.host() + "/app:latest"));
        args.addAll(List.of(extra));
        Run run = build(args.toArray(String[]::new));
        assertEquals(0, run.exit(), run.log());
        return run;
    }

    private void dockerfile(String text) throws IOException {
        Files.writeString(ctx.resolve("Dockerfile"), text.replace("BASE", base));
    }

    private String digestOf(Run run) {
        Matcher m = Pattern.compile("build done in [0-9.]+s: (sha256:[0-9a-f]{64})").matcher(run.log());
        assertTrue(m.find(), run.log());
        return m.group(1);
    }

    /** The rebuild after the last COPY changed: its new layer goes up once, to the cache, and the image mounts it. */
    @Test
    void aLayerJustStoredInTheCacheIsMountedNotUploadedAgain() throws IOException {
        Files.writeString(ctx.resolve("a.txt"), "a\n");
        dockerfile("""
                FROM BASE
                RUN echo ran > /ran
                COPY a.txt /app/a.txt
                """);
        cachedBuild();
        Files.writeString(ctx.resolve("a.txt"), "changed\n");
        Run rebuild = cachedBuild();
        String cache = cacheRepo.substring(registry.host().length() + 1);
        assertTrue(rebuild.log().contains("mounted from " + cache), rebuild.log());
        assertTrue(rebuild.log().matches("(?s).*uploaded \\d+ bytes in 1 blobs.*"), "only the config goes up: " + rebuild.log());
    }

    @Test
    void secondIdenticalBuildIsAllHitsAndRunsNothing() throws IOException {
        Files.writeString(ctx.resolve("a.txt"), "a\n");
        dockerfile("""
                FROM BASE
                WORKDIR /app
                COPY a.txt .
                RUN echo ran-first && echo one > one.txt
                RUN echo ran-second && rm /etc/obsolete
                """);
        Run first = cachedBuild();
        assertTrue(first.log().contains("| ran-first"), first.log());
        assertFalse(first.cached().containsValue(true), first.log());

        Run second = cachedBuild();
        assertEquals(List.of(true, true, true, true), List.copyOf(second.cached().values()), second.log());
        assertFalse(second.log().contains("| ran-first"), second.log());
        assertFalse(second.log().contains("| ran-second"), second.log());
        assertFalse(second.log().contains("unpacked the root filesystem"), "nothing ran, so no rootfs: " + second.log());
        assertEquals(digestOf(first), digestOf(second), "a reproducible rebuild from the cache is the same image");
    }

    @Test
    void changingACopySourceInvalidatesThatStepAndTheOnesAfter() throws IOException {
        Files.writeString(ctx.resolve("a.txt"), "a\n");
        Files.writeString(ctx.resolve("b.txt"), "b\n");
        dockerfile("""
                FROM BASE
                COPY a.txt /a.txt
                RUN echo ran-after-a && cat /a.txt > /a.copy
                COPY b.txt /b.txt
                RUN echo ran-after-b && cat /b.txt /etc/passwd > /b.copy
                """);
        cachedBuild();
        Files.writeString(ctx.resolve("b.txt"), "b changed\n");
        Run second = cachedBuild();
        assertEquals(List.of(true, true, false, false), List.copyOf(second.cached().values()), second.log());
        assertFalse(second.log().contains("| ran-after-a"), second.log());
        assertTrue(second.log().contains("| ran-after-b"), second.log());

        Files.writeString(ctx.resolve("a.txt"), "a changed\n");
        Run third = cachedBuild();
        assertEquals(List.of(false, false, false, false), List.copyOf(third.cached().values()), third.log());
    }

    @Test
    void aBuildArgChangesOnlyTheRunStepsThatSeeIt() throws IOException {
        dockerfile("""
                FROM BASE
                RUN echo ran-before-arg > /before
                ARG FLAVOUR=plain
                RUN echo ran-with-$FLAVOUR && echo $FLAVOUR > /flavour
                """);
        cachedBuild("--build-arg", "FLAVOUR=sweet");
        Run second = cachedBuild("--build-arg", "FLAVOUR=sour");
        assertEquals(List.of(true, false), List.copyOf(second.cached().values()), second.log());
        assertTrue(second.log().contains("| ran-with-sour"), second.log());
        Run third = cachedBuild("--build-arg", "FLAVOUR=sour");
        assertEquals(List.of(true, true), List.copyOf(third.cached().values()), third.log());
    }

    @Test
    void expiredEntriesAreMisses() throws Exception {
        dockerfile("""
                FROM BASE
                RUN echo ran > /ran
                """);
        cachedBuild();
        assertEquals(List.of(true), List.copyOf(cachedBuild("--cache-ttl", "1h").cached().values()));
        Thread.sleep(1100);
        Run expired = cachedBuild("--cache-ttl", "1s");
        assertEquals(List.of(false), List.copyOf(expired.cached().values()), expired.log());
    }

    @Test
    void copyFromAChangedEarlierStageIsAMiss() throws IOException {
        Files.writeString(ctx.resolve("src.txt"), "one\n");
        Files.writeString(ctx.resolve("other.txt"), "other\n");
        dockerfile("""
                FROM BASE AS builder
                COPY src.txt other.txt /work/
                RUN cat /work/src.txt > /work/out.txt
                FROM BASE
                COPY --from=builder /work/out.txt /out.txt
                RUN echo ran-final && cat /out.txt
                """);
        cachedBuild();
        Files.writeString(ctx.resolve("src.txt"), "two\n");
        Run second = cachedBuild();
        assertEquals(List.of(false, false, false, false), List.copyOf(second.cached().values()), second.log());
        assertTrue(second.log().contains("| two"), "the final stage saw the new file: " + second.log());

        // other.txt changes the builder stage but not the file the final stage takes: its COPY still hits
        Files.writeString(ctx.resolve("other.txt"), "changed\n");
        Run third = cachedBuild();
        assertEquals(List.of(false, false, true, true), List.copyOf(third.cached().values()), third.log());
    }

    @Test
    void deletedFilesStayDeletedThroughCachedLayers() throws IOException {
        dockerfile("""
                FROM BASE
                RUN rm /etc/obsolete && echo removed
                ARG CHECK=1
                RUN echo check-$CHECK && test ! -e /etc/obsolete && echo still-gone
                """);
        cachedBuild("--build-arg", "CHECK=1");
        Run second = cachedBuild("--build-arg", "CHECK=2");
        assertEquals(List.of(true, false), List.copyOf(second.cached().values()), second.log());
        assertTrue(second.log().contains("| still-gone"), "the cached whiteout was applied: " + second.log());
    }

    @Test
    void dryRunPrintsThePlanTheBuildThenFollows() throws IOException {
        Files.writeString(ctx.resolve("a.txt"), "a\n");
        Files.writeString(ctx.resolve("b.txt"), "b\n");
        dockerfile("""
                FROM BASE
                WORKDIR /srv
                COPY a.txt .
                RUN echo ran-a && cat a.txt > a2
                COPY b.txt .
                RUN echo ran-b && cat b.txt > b2
                """);
        Run cold = cachedBuild("--dry-run");
        assertEquals(List.of("MISS", "MISS", "MISS", "MISS", "MISS"), planOf(cold));
        assertFalse(cold.log().contains("| ran-a"), "a dry run runs nothing: " + cold.log());
        cachedBuild();
        Files.writeString(ctx.resolve("b.txt"), "b2\n");
        Run plan = cachedBuild("--dry-run");
        Run build = cachedBuild();
        List<String> expected = new ArrayList<>();
        build.cached().values().forEach(hit -> expected.add(hit ? "HIT" : "MISS"));
        assertEquals(List.of("HIT", "HIT", "HIT", "MISS", "MISS"), expected, build.log());
        assertEquals(expected, planOf(plan), plan.out());
        assertNotEquals("", plan.out());
    }

    @Test
    void aWarmedCacheDirNeedsTheRegistryOnlyForTheTag() throws Exception {
        // an image of its own: the registry is about to lose its blobs, which no other test may share
        String warmBase = registry.host() + "/warm-base:1";
        Path baseCtx = Files.createDirectories(dir.resolve("warm-base"));
        Files.writeString(baseCtx.resolve("unique.txt"), java.util.UUID.randomUUID().toString());
        Files.writeString(baseCtx.resolve("Dockerfile"), "FROM scratch\nCOPY unique.txt /unique.txt\n");
        assertEquals(0, build("-c", baseCtx.toString(), "-d", warmBase, "--insecure-registry", registry.host()).exit());
        Path cacheDir = dir.resolve("warm-cache");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int exit = new CommandLine(new dev.kiln.app.cli.WarmCommand(new PrintStream(out, true, StandardCharsets.UTF_8),
                System.err)).execute("--image", warmBase, "--cache-dir", cacheDir.toString(),
                "--insecure-registry", registry.host());
        assertEquals(0, exit);
        assertTrue(out.toString(StandardCharsets.UTF_8).startsWith(warmBase + "@sha256:"), out.toString(StandardCharsets.UTF_8));

        String pinned = out.toString(StandardCharsets.UTF_8).trim();

        // the registry loses the image's manifest, config and layers: a warmed build needs none of them
        String inspect = new Skopeo(dir.resolve("skopeo")).tryRun("inspect", "--raw", "--tls-verify=false", "docker://" + warmBase).stdout();
        Matcher digests = Pattern.compile("\"digest\"\\s*:\\s*\"(sha256:[0-9a-f]{64})\"").matcher(inspect);
        List<String> lost = new ArrayList<>(List.of(pinned.substring(pinned.indexOf('@') + 1)));
        while (digests.find()) {
            lost.add(digests.group(1));
        }
        for (String digest : lost) {
            Files.delete(registry.blobData(digest));
        }
        assertEquals(3, lost.size(), inspect);

        Files.writeString(ctx.resolve("more.txt"), "more\n");
        dockerfile("""
                FROM %s
                COPY more.txt /more.txt
                """.formatted(pinned));
        Run run = build("-c", ctx.toString(), "--cache-dir", cacheDir.toString(), "--insecure-registry", registry.host(),
                "--no-push", "--tar-path", dir.resolve("image.tar").toString());
        assertEquals(0, run.exit(), run.log());
        assertTrue(Files.size(dir.resolve("image.tar")) > 0, run.log());
    }

    @Test
    void badCacheFlagsFailWithOneLineAndPushNothing() throws Exception {
        dockerfile("FROM BASE\nRUN echo ran > /ran\n");
        String image = registry.host() + "/never-pushed:1";
        Run badTtl = build("-c", ctx.toString(), "-d", image, "--cache", "--cache-ttl", "two weeks",
                "--insecure-registry", registry.host());
        assertEquals(1, badTtl.exit());
        assertTrue(badTtl.log().contains("error: invalid --cache-ttl two weeks"), badTtl.log());
        Run noRepo = build("-c", ctx.toString(), "--no-push", "--cache");
        assertEquals(1, noRepo.exit());
        assertTrue(noRepo.log().contains("--cache needs --cache-repo"), noRepo.log());
        Run dryWithoutCache = build("-c", ctx.toString(), "--no-push", "--dry-run");
        assertEquals(1, dryWithoutCache.exit());
        assertTrue(dryWithoutCache.log().contains("give --cache too"), dryWithoutCache.log());
        assertNotEquals(0, new Skopeo(dir.resolve("skopeo")).tryRun("inspect", "--tls-verify=false", "docker://" + image).exitCode(),
                "nothing was pushed");
    }

    @Test
    void warmingAnImageThatDoesNotExistFails() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = new CommandLine(new dev.kiln.app.cli.WarmCommand(System.out, new PrintStream(err, true, StandardCharsets.UTF_8)))
                .execute("--image", registry.host() + "/no-such-image:1", "--cache-dir", dir.resolve("c").toString(),
                        "--insecure-registry", registry.host());
        assertEquals(1, exit);
        String text = err.toString(StandardCharsets.UTF_8);
        assertTrue(text.startsWith("error: ") && text.contains("no-such-image"), text);
    }

    private static List<String> planOf(Run run) {
        List<String> plan = new ArrayList<>();
        Matcher m = PLAN.matcher(run.out());
        while (m.find()) {
            plan.add(m.group(3).trim());
        }
        return plan;
    }
}
