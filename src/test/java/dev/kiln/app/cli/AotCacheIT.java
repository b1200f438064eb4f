package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.RegistryWithBase;
import dev.kiln.testkit.Slowness;
import dev.kiln.testkit.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The AOT cache that {@code scripts/aot-cache} trains for short runs, on the packaged jar and Temurin 25:
 * a cold build that pulls its base from a real docker-registry, runs a RUN and pushes back finds what it
 * loads for that (the JDK's HTTP client, the registry client, the sandbox, picocli) in the cache, not in
 * the jars.
 */
class AotCacheIT {
    private static final Path JDK25 = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64");
    private static final Pattern LOADED = Pattern.compile("\\] (\\S+) source: (.+)");

    @TempDir
    Path dir;

    @Test
    void aColdBuildThatPullsRunsAndPushesFindsTheHttpClientTheRegistryClientTheSandboxAndPicocliInTheCache() throws Exception {
        assertTrue(Files.isExecutable(JDK25.resolve("bin/java")), "Temurin 25 is installed on these machines: " + JDK25);
        Path app = dir.resolve("app");
        Tools.run("cp", "-a", KilnProcess.jar().getParent().toString(), app.toString()).requireSuccess();
        // the training, as ./kiln runs it the first time after a build of the jar
        ExecResult trained = Tools.run(null, List.of("bash", "-c", ". scripts/aot-cache && cli=\"$(kiln_cli_jar \"$1\")\" "
                + "&& kiln_aot_cache \"$2\" \"$(kiln_java25)\" \"$cli\"", "_", app.toString(), dir.resolve("aot").toString()),
                Map.of("JAVA25_HOME", JDK25.toString(), "TMPDIR", dir.toString()), Slowness.scale(Duration.ofSeconds(120)).toSeconds());
        trained.requireSuccess();
        Path cache = Path.of(trained.stdout().strip());

        try (RegistryWithBase registry = RegistryWithBase.start("aot-base", "ENV B=1")) {
            Path ctx = Files.createDirectories(dir.resolve("ctx/etc"));
            Files.writeString(ctx.resolve("a.conf"), "a=1\n");
            Files.writeString(ctx.getParent().resolve("Dockerfile"), "FROM " + registry.base() + "\nENV A=1\nCOPY etc/ /etc/\nRUN echo c=1 > /etc/c.conf\n");
            Path loaded = dir.resolve("class-load.log");
            ExecResult build = Tools.run(null, List.of(JDK25.resolve("bin/java").toString(), "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                    "-XX:AOTCache=" + cache, "-XX:AOTMode=on", "-Xlog:class+load:file=" + loaded, "-jar", app.resolve("kiln-cli.jar").toString(),
                    "build", "-c", ctx.getParent().toString(), "-d", registry.host() + "/aot/it:1", "--insecure-registry", registry.host()),
                    Map.of(), Slowness.scale(Duration.ofSeconds(60)).toSeconds());
            assertTrue(build.ok() && build.output().contains("build done"), build.output());
            List<String> fromJars = new ArrayList<>();
            for (String line : Files.readAllLines(loaded)) {
                Matcher m = LOADED.matcher(line);
                if (m.find() && !m.group(1).contains("$$Lambda") && !m.group(2).startsWith("shared objects file") && (m.group(1).startsWith("picocli.")
                        || m.group(1).startsWith("jdk.internal.net.http.") || m.group(1).startsWith("dev.kiln.registry.client.")
                        || m.group(1).startsWith("dev.kiln.builder.sandbox."))) {
                    fromJars.add(m.group(1) + " from " + m.group(2));
                }
            }
            assertEquals(List.of(), fromJars, "classes of the pull, the push, the RUN and the flags loaded from jars, not from the AOT cache");
        }
        try (var changed = Files.list(app.resolve("lib/kiln-cli")); ZipFile picocli = new ZipFile(changed
                .filter(jar -> jar.getFileName().toString().startsWith("info.picocli.")).findFirst().orElseThrow().toFile())) {
            assertTrue(picocli.getEntry("META-INF/KILN-CHANGED-CLASS-FILES.txt") != null, "the changed copy of picocli says it was changed");
        }
    }
}
