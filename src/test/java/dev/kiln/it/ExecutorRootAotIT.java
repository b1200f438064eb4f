package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image's Java 25 runtime and the AOT cache of its short runs, as {@code scripts/make-executor-root}
 * assembles them: two assemblies carry the same cache byte for byte (so {@code scripts/build-image} gives
 * the same digest twice), and the tree run at {@code /kiln} (bubblewrap, as a container would see it,
 * with nothing of the assembly directory in sight) maps the cache, or runs on without a corrupt one.
 */
class ExecutorRootAotIT {
    private static final Path JDK25 = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64");

    @TempDir
    Path work;

    @Test
    void twoAssembliesCarryTheSameCacheAndItMapsAtKilnOrIsIgnoredWhenCorrupt() throws IOException {
        KilnProcess.jar(); // the tree is made of the packaged jar
        Tools.require("bwrap", "bubblewrap");
        assertTrue(Files.isExecutable(JDK25.resolve("bin/java")), "Temurin 25 is installed on these machines: " + JDK25);
        Map<String, String> env = Map.of("JAVA25_HOME", JDK25.toString());
        Path first = work.resolve("first");
        Path second = work.resolve("second");
        for (Path root : List.of(first, second)) {
            ExecResult assembled = Tools.run(List.of("scripts/make-executor-root", root.toString()), env, 600);
            assertEquals(0, assembled.exitCode(), assembled.output());
        }
        Path cache = first.resolve("kiln/app/kiln.aot");
        assertTrue(Files.size(cache) > 1_000_000, "a cache of the build's classes: " + Files.size(cache));
        assertEquals(Tools.sha256sum(cache), Tools.sha256sum(second.resolve("kiln/app/kiln.aot")),
                "the same app and runtime give the same cache bytes, whatever the training run wrote this time");
        assertEquals(FileTime.from(Instant.EPOCH), Files.getLastModifiedTime(first.resolve("kiln/app/lib")),
                "every file has the time 0, which the layers keep and the cache checks");

        // -XX:AOTMode=on: a JVM that cannot use the cache stops instead of running on without it
        ExecResult mapped = atKiln(first, Map.of("KILN_JAVA_OPTS", "-XX:AOTMode=on"), "--version");
        assertEquals(0, mapped.exitCode(), "the cache maps at /kiln:\n" + mapped.output());
        assertTrue(mapped.stdout().startsWith("kiln "), mapped.output());
        assertEquals("", mapped.stderr(), "no warning on a short run (Java 25 warns about VFORK)");

        Files.write(cache, new byte[8192]);
        ExecResult corrupt = atKiln(first, Map.of(), "--version");
        assertEquals(0, corrupt.exitCode(), corrupt.output());
        assertEquals(mapped.stdout(), corrupt.stdout(), "a corrupt cache is ignored");
        assertEquals("", corrupt.stderr(), "silently");
    }

    /** The tree's launcher with the tree at /kiln and the host's /usr for nothing but bubblewrap's own needs. */
    private static ExecResult atKiln(Path root, Map<String, String> env, String... args) {
        List<String> command = new ArrayList<>(List.of("bwrap", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
                "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                "--bind", root.resolve("kiln").toString(), "/kiln", "/kiln/bin/kiln"));
        command.addAll(List.of(args));
        return Tools.run(command, env, 120);
    }
}
