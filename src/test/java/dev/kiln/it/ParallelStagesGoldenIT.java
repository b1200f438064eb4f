package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.app.cli.BuildCommand;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Tools;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/**
 * Every multi-stage golden case on the busybox base gives the same image, digest for digest, with
 * its stages built one at a time and two at a time ({@code --max-parallel-stages}, reproducible
 * builds). GoldenBuildIT compares the default (the processors) with buildah; this pins that the
 * setting never changes the result.
 */
class ParallelStagesGoldenIT {
    private static final Path CASES = Path.of("src/test/resources/golden");
    private static Path work;
    private static DockerRegistry registry;

    @BeforeAll
    static void registryWithBusybox() throws Exception {
        work = Files.createTempDirectory("kiln-parallel-golden-");
        registry = DockerRegistry.start(work.resolve("registry"));
        Tools.require("skopeo", "skopeo");
        // Docker Hub names (library/…), so FROM busybox resolves through --registry-mirror
        ExecResult bases = Tools.run(List.of("scripts/make-base-images", registry.host() + "/library", "busybox"), Map.of(), 600);
        assertTrue(bases.ok(), "scripts/make-base-images failed:\n" + bases.output());
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
        new ProcessBuilder("rm", "-rf", work.toString()).start().waitFor();
    }

    /** Cases with several stages that need nothing but busybox (no parent case, no served files). */
    static Stream<GoldenBuildIT.Case> multiStageCases() {
        return GoldenBuildIT.cases().filter(c -> {
            try {
                String dockerfile = Files.readString(CASES.resolve(c.name()).resolve("Dockerfile"));
                long froms = dockerfile.lines().filter(l -> l.regionMatches(true, 0, "FROM ", 0, 5)).count();
                return froms > 1 && c.parent() == null && !dockerfile.contains("debian")
                        && c.buildArgs().stream().noneMatch(a -> a.contains("{"));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("multiStageCases")
    void oneOrTwoStagesAtATimeGiveTheSameImage(GoldenBuildIT.Case c) throws IOException {
        Path context = GoldenContexts.prepare(CASES, work, c.name());
        String one = build(c, context, 1);
        String two = build(c, context, 2);
        assertEquals(digest(one), digest(two), c.name() + "\n--- 1 at a time:\n" + one + "\n--- 2 at a time:\n" + two);
    }

    private String build(GoldenBuildIT.Case c, Path context, int maxParallel) {
        List<String> args = new ArrayList<>(List.of("-c", context.toString(), "-f", context.resolve("Dockerfile").toString(),
                "--no-push", "--reproducible", "--registry-mirror", registry.host(), "--skip-default-registry-fallback",
                "--insecure-registry", registry.host(), "--cache-dir", work.resolve("cache").toString(),
                "--max-parallel-stages", Integer.toString(maxParallel)));
        for (String arg : c.buildArgs()) {
            args.addAll(List.of("--build-arg", arg.replace("{tool}", "kiln")));
        }
        if (c.target() != null) {
            args.addAll(List.of("--target", c.target()));
        }
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        int exit = new CommandLine(new BuildCommand(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(log, true, StandardCharsets.UTF_8))).execute(args.toArray(String[]::new));
        String text = log.toString(StandardCharsets.UTF_8);
        assertEquals(0, exit, c.name() + " with --max-parallel-stages " + maxParallel + ":\n" + text);
        return text;
    }

    private static String digest(String log) {
        Matcher m = Pattern.compile("build done in [0-9.]+s: (sha256:[0-9a-f]{64})").matcher(log);
        assertTrue(m.find(), log);
        return m.group(1);
    }
}
