package dev.kiln.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.app.cli.BuildCommand;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * A real docker-registry holding one base image that {@code kiln build} made in this process from
 * busybox and a few lines of Dockerfile: the fixture of build tests that compare two ways of
 * building on the same base. Start it once per class ({@code @BeforeAll}) and close it after.
 */
public final class RegistryWithBase implements AutoCloseable {
    private static final Pattern DONE = Pattern.compile("build done in [0-9.]+s: (sha256:[0-9a-f]{64})");

    private final Path dir;
    private final DockerRegistry registry;
    private final String base;

    private RegistryWithBase(Path dir, DockerRegistry registry, String base) {
        this.dir = dir;
        this.registry = registry;
        this.base = base;
    }

    /**
     * @param repository the base image's repository in the registry (tagged {@code 1})
     * @param baseSteps  Dockerfile lines after {@code FROM busybox}
     */
    public static RegistryWithBase start(String repository, String baseSteps) throws Exception {
        Path dir = Files.createTempDirectory("kiln-" + repository + "-test");
        DockerRegistry registry = DockerRegistry.start(dir.resolve("registry"));
        try {
            Path baseCtx = BusyboxContext.write(dir.resolve("base-ctx"), baseSteps);
            String base = registry.host() + "/" + repository + ":1";
            String log = build("-c", baseCtx.toString(), "-d", base, "--insecure-registry", registry.host());
            assertTrue(log.contains("build done"), log);
            return new RegistryWithBase(dir, registry, base);
        } catch (Exception | AssertionError e) {
            registry.close();
            throw e;
        }
    }

    /** {@code host:port} of the registry. */
    public String host() {
        return registry.host();
    }

    /** The base image's reference. */
    public String base() {
        return base;
    }

    /** {@code kiln build} with {@code args}, in this process; its log, after checking it succeeded. */
    public static String build(String... args) {
        Run run = run(args);
        assertEquals(0, run.exit(), run.log());
        return run.log();
    }

    /** How an in-process {@code kiln build} ended: its exit code and its log. */
    public record Run(int exit, String log) {
    }

    /** {@code kiln build} with {@code args}, in this process, whether it succeeds or not. */
    public static Run run(String... args) {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        int exit = new CommandLine(new BuildCommand(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(log, true, StandardCharsets.UTF_8))).execute(args);
        return new Run(exit, log.toString(StandardCharsets.UTF_8));
    }

    /** The image digest a successful build's log ends with. */
    public static String digestOf(String log) {
        Matcher m = DONE.matcher(log);
        assertTrue(m.find(), log);
        return m.group(1);
    }

    @Override
    public void close() throws IOException, InterruptedException {
        registry.close();
        new ProcessBuilder("rm", "-rf", dir.toString()).start().waitFor();
    }
}
