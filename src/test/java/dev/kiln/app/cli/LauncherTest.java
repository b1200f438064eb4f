package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The checkout's {@code ./kiln} launcher and its staleness rule ({@code scripts/jar-freshness}), run
 * by bash on a checkout laid out in a temp dir with file times set by hand. Maven and java are
 * stand-ins on PATH that record how they were called: a real package takes minutes.
 */
class LauncherTest {
    private static final Instant BUILT = Instant.parse("2026-01-01T12:00:00Z");

    @TempDir
    Path checkout;

    private Path jar;
    private final Map<String, String> env = new HashMap<>();

    @BeforeEach
    void layOutACheckout() throws IOException {
        Files.createDirectories(checkout.resolve("scripts"));
        Files.copy(Path.of("scripts/jar-freshness"), checkout.resolve("scripts/jar-freshness"));
        Files.copy(Path.of("scripts/cds-archive"), checkout.resolve("scripts/cds-archive"));
        Files.copy(Path.of("scripts/aot-cache"), checkout.resolve("scripts/aot-cache"));
        Files.copy(Path.of("scripts/short-run-jvm"), checkout.resolve("scripts/short-run-jvm"));
        Files.copy(Path.of("scripts/AotClassFiles.java"), checkout.resolve("scripts/AotClassFiles.java"));
        Files.copy(Path.of("scripts/TrainingRegistry.java"), checkout.resolve("scripts/TrainingRegistry.java"));
        Files.copy(Path.of("kiln"), checkout.resolve("kiln"));
        jar = checkout.resolve("target/quarkus-app/quarkus-run.jar");
        for (String file : List.of("pom.xml", "src/main/java/dev/kiln/A.java", "src/main/resources/application.properties",
                "src/test/java/dev/kiln/ATest.java", "target/quarkus-app/quarkus-run.jar")) {
            Path path = checkout.resolve(file);
            Files.createDirectories(path.getParent());
            Files.writeString(path, file);
        }
        // Directories count too (a deleted source changes its directory's time): all of them older than the jar.
        try (var tree = Files.walk(checkout.resolve("src"))) {
            for (Path path : tree.toList()) {
                Files.setLastModifiedTime(path, FileTime.from(BUILT.minusSeconds(3600)));
            }
        }
        age("pom.xml", -3600);
        age("target/quarkus-app/quarkus-run.jar", 0);
    }

    @Test
    void aJarNewerThanEverySourceIsFresh() throws Exception {
        assertFalse(stale(), "nothing changed since the build");
    }

    @Test
    void aMissingJarIsStale() throws Exception {
        Files.delete(jar);
        assertTrue(stale(), "first use");
    }

    @Test
    void aSourceOrResourceOrPomNewerThanTheJarMakesItStale() throws Exception {
        for (String file : List.of("src/main/java/dev/kiln/A.java", "src/main/resources/application.properties", "pom.xml")) {
            age(file, 60);
            assertTrue(stale(), file + " edited after the build");
            age(file, -3600);
            assertFalse(stale(), "with " + file + " older again");
        }
        Path added = checkout.resolve("src/main/java/dev/kiln/deep/New.java");
        Files.createDirectories(added.getParent());
        Files.writeString(added, "class New {}");
        Files.setLastModifiedTime(added, FileTime.from(BUILT.plusSeconds(1)));
        assertTrue(stale(), "a new file deep under src/main/");
    }

    @Test
    void aDeletedSourceMakesItStale() throws Exception {
        Files.delete(checkout.resolve("src/main/resources/application.properties"));
        assertTrue(stale(), "its directory changed after the build");
    }

    @Test
    void anEditedTestIsNoInputOfTheJar() throws Exception {
        age("src/test/java/dev/kiln/ATest.java", 60);
        assertFalse(stale(), "tests are not packaged");
    }

    @Test
    void onJava17TheLauncherRebuildsAStaleJarWithMavensPlainProgressThenRunsItWithAnArchive() throws Exception {
        Path bin = Files.createDirectories(checkout.resolve("fake-bin"));
        // a java with no release file naming Java 25: the Java 17 path, even where a JDK 25 is installed
        env.put("KILN_JAVA", "java");
        Path calls = checkout.resolve("calls.txt");
        script(bin.resolve("mvn"), "echo \"mvn $*\" >> '" + calls + "'\necho '[INFO] Downloading progress line'\n"
                + "touch -d '2026-01-01 12:00:00Z' '" + jar + "'\n");
        // a training run writes the archive it is asked for, as the JVM does at exit
        script(bin.resolve("java"), "echo \"java $*\" >> '" + calls + "'\n"
                + "for a in \"$@\"; do case \"$a\" in -XX:ArchiveClassesAtExit=*) echo archive > \"${a#*=}\" ;; esac; done\n");

        Result fresh = launch(bin, "--version");
        assertEquals(0, fresh.exit(), fresh.output());
        List<String> firstRun = Files.readAllLines(calls);
        assertEquals(2, firstRun.size(), "one training run, then the command: " + firstRun);
        String archive = checkout.resolve("target/kiln-cds/" + bin.resolve("java").toString().replaceAll("[^A-Za-z0-9.-]", "_")
                + ".jsa").toString();
        assertTrue(firstRun.get(0).startsWith("java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:ArchiveClassesAtExit=" + archive
                + ".") && firstRun.get(0).contains(" -jar " + jar + " build "), "a training build, the archive written aside: " + firstRun.get(0));
        assertEquals("java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:SharedArchiveFile=" + archive
                + " -Xshare:auto -Xlog:cds=off,cds+dynamic=off -jar " + jar + " --version", firstRun.get(1),
                "a fresh jar runs without Maven, a short run with C1, the serial collector and the archive");
        assertTrue(Files.isRegularFile(Path.of(archive)), "the archive is kept under target/");

        Files.delete(calls);
        assertEquals(0, launch(bin, "build", "-c", ".").exit());
        assertEquals(List.of("java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:SharedArchiveFile=" + archive
                + " -Xshare:auto -Xlog:cds=off,cds+dynamic=off -jar " + jar + " build -c ."), Files.readAllLines(calls),
                "the archive is made once per build of the jar");

        Files.delete(calls);
        Files.setLastModifiedTime(Path.of(archive), FileTime.from(BUILT.minusSeconds(60)));
        assertEquals(0, launch(bin, "gc").exit());
        List<String> afterANewJar = Files.readAllLines(calls);
        assertTrue(afterANewJar.size() == 2 && afterANewJar.get(0).contains("-XX:ArchiveClassesAtExit="),
                "an archive older than the jar is made again: " + afterANewJar);

        Files.delete(calls);
        age("src/main/java/dev/kiln/A.java", 60);
        Result rebuilt = launch(bin, "serve");
        assertEquals(0, rebuilt.exit(), rebuilt.output());
        List<String> lines = Files.readAllLines(calls);
        assertEquals(2, lines.size(), "Maven, then the jar: " + lines);
        assertTrue(lines.get(0).contains("-B") && lines.get(0).contains("-Dstyle.color=never") && lines.get(0).contains("package"),
                "batch mode, no colour codes: " + lines.get(0));
        assertFalse(lines.get(0).contains(" -q"), "Maven's progress is shown, not silenced: " + lines.get(0));
        assertTrue(rebuilt.output().contains("rebuilding") && rebuilt.output().contains("Downloading progress line"),
                "the launcher says why it builds and shows Maven's output:\n" + rebuilt.output());
        assertFalse(rebuilt.output().contains("\u001b["), "no raw escape codes:\n" + rebuilt.output());
        assertEquals("java -XX:+UseSerialGC -Xmx128m -Xmn32m -XX:MaxDirectMemorySize=64m -jar " + jar + " serve", lines.get(1), "the server: a capped heap, no archive");
        assertFalse(stale(), "the rebuilt jar is fresh: the next call does not build again");
    }

    @Test
    void onJava25AShortRunTakesThePlainClassPathAndAnAotCacheTrainedOncePerJar() throws Exception {
        Path bin = Files.createDirectories(checkout.resolve("fake-bin"));
        Path calls = checkout.resolve("calls.txt");
        script(bin.resolve("java"), "echo \"java17 $*\" >> '" + calls + "'\n");
        Path jdk25 = checkout.resolve("jdk-25");
        Files.createDirectories(jdk25.resolve("bin"));
        Files.writeString(jdk25.resolve("release"), "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"25.0.3\"\n");
        // a training run writes the cache it is asked for, as the JVM does at exit
        script(jdk25.resolve("bin/java"), "echo \"java25 $*\" >> '" + calls + "'\n"
                + "for a in \"$@\"; do case \"$a\" in -XX:AOTCacheOutput=*) echo cache > \"${a#*=}\" ;; esac; done\n");
        env.put("JAVA25_HOME", jdk25.toString());
        Path app = jar.getParent();
        for (String lib : List.of("app/kiln-0.1.jar", "lib/main/b.jar", "lib/main/a.jar", "lib/boot/c.jar",
                "lib/boot/org.jboss.logmanager.jboss-logmanager-3.2.1.Final.jar")) {
            Files.createDirectories(app.resolve(lib).getParent());
            Files.writeString(app.resolve(lib), lib);
        }
        Path cli = app.resolve("kiln-cli.jar");
        String cache = checkout.resolve("target/kiln-aot/" + jdk25.resolve("bin/java").toString().replaceAll("[^A-Za-z0-9.-]", "_")
                + ".aot").toString();
        String shortRun = "java25 -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:AOTCache=" + cache + " -Xlog:aot=off,cds=off -jar " + cli;

        Result first = launch(bin, "--version");
        assertEquals(0, first.exit(), first.output());
        List<String> firstRun = Files.readAllLines(calls);
        assertEquals(4, firstRun.size(), "the class files, the training registry, one training run, then the command: " + firstRun);
        assertTrue(firstRun.get(0).startsWith("java25 " + checkout.resolve("scripts/AotClassFiles.java") + " lib/kiln-cli app/kiln-0.1.jar "),
                "Java 25's source launcher upgrades old class files: " + firstRun.get(0));
        assertTrue(firstRun.get(1).startsWith("java25 " + checkout.resolve("scripts/TrainingRegistry.java") + " "),
                "a registry for the training run: " + firstRun.get(1));
        assertTrue(firstRun.get(2).startsWith("java25 -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:AOTCacheOutput=" + cache + ".")
                && firstRun.get(2).contains(" -jar " + cli + " build ") && firstRun.get(2).contains(" --tar-path "),
                "no registry answered (this java is a stand-in): a training build to a tarball, the cache written aside: " + firstRun.get(2));
        assertEquals(shortRun + " --version", firstRun.get(3), "Java 25, the manifest-only jar and the cache");
        assertTrue(first.output().contains("training an ahead-of-time cache"), first.output());
        try (JarFile manifestOnly = new JarFile(cli.toFile())) {
            Attributes main = manifestOnly.getManifest().getMainAttributes();
            assertEquals("dev.kiln.app.cli.KilnMain", main.getValue("Main-Class"), "no Quarkus runner");
            assertEquals("app/kiln-0.1.jar lib/main/a.jar lib/main/b.jar lib/boot/c.jar", main.getValue("Class-Path"),
                    "Kiln first, then every library but JBoss LogManager, relative to the app directory so the tree can move");
        }

        Files.delete(calls);
        Result second = launch(bin, "build", "-c", ".");
        assertEquals(List.of(shortRun + " build -c ."), Files.readAllLines(calls), "the cache is trained once per build of the jar");
        assertFalse(second.output().contains("training"), second.output());

        Files.delete(calls);
        Files.writeString(app.resolve("lib/main/d.jar"), "a library more");
        Files.setLastModifiedTime(jar, FileTime.from(Instant.now())); // Maven packaged the jar again
        assertEquals(0, launch(bin, "submit").exit());
        List<String> afterANewJar = Files.readAllLines(calls);
        assertTrue(afterANewJar.size() == 4 && afterANewJar.get(2).contains("-XX:AOTCacheOutput=")
                && afterANewJar.get(3).equals(shortRun + " submit"), "a new jar: the cache is trained again: " + afterANewJar);
        try (JarFile manifestOnly = new JarFile(cli.toFile())) {
            assertTrue(manifestOnly.getManifest().getMainAttributes().getValue("Class-Path").contains("lib/main/d.jar"),
                    "the manifest is written again with the new library");
        }

        Files.delete(calls);
        assertEquals(0, launch(bin, "serve").exit());
        assertEquals(List.of("java17 -XX:+UseSerialGC -Xmx128m -Xmn32m -XX:MaxDirectMemorySize=64m -jar " + jar + " serve"), Files.readAllLines(calls), "the server stays on Java 17 and Quarkus' jar");

        Files.delete(calls);
        env.put("KILN_JAVA_OPTS", "-Xmx1g");
        assertEquals(0, launch(bin, "gc").exit());
        assertEquals(List.of(shortRun.replace(" -jar ", " -Xmx1g -jar ") + " gc"), Files.readAllLines(calls),
                "KILN_JAVA_OPTS comes after the launcher's options");
    }

    @Test
    void aFailedTrainingRunLeavesNoCacheAndTheCommandRunsWithoutOne() throws Exception {
        Path bin = Files.createDirectories(checkout.resolve("fake-bin"));
        Path calls = checkout.resolve("calls.txt");
        Path jdk25 = checkout.resolve("jdk-25");
        Files.createDirectories(jdk25.resolve("bin"));
        Files.writeString(jdk25.resolve("release"), "JAVA_VERSION=\"25\"\n");
        // the training run dies half way through its cache
        script(jdk25.resolve("bin/java"), "echo \"java25 $*\" >> '" + calls + "'\n"
                + "for a in \"$@\"; do case \"$a\" in -XX:AOTCacheOutput=*) echo half > \"${a#*=}\"; exit 1 ;; esac; done\n");
        env.put("KILN_JAVA", jdk25.resolve("bin/java").toString());
        Files.createDirectories(jar.resolveSibling("app"));
        Files.writeString(jar.resolveSibling("app/kiln.jar"), "kiln");

        Result result = launch(bin, "--version");
        assertEquals(0, result.exit(), result.output());
        List<String> lines = Files.readAllLines(calls);
        assertEquals(4, lines.size(), lines.toString());
        assertEquals("java25 -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar " + jar.resolveSibling("kiln-cli.jar") + " --version",
                lines.get(3), "Java 25 and the plain class path, no cache");
        try (var left = Files.list(checkout.resolve("target/kiln-aot"))) {
            assertEquals(List.of(), left.toList(), "no half-written cache is left for the next run to map");
        }
    }

    @Test
    void aTrainingBuildWhoseRunFailsIsTriedAgainWithoutItAgainstTheSameRegistryThenTheRegistryIsStopped() throws Exception {
        Path realJava = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64/bin/java");
        assertTrue(Files.isExecutable(realJava) && Files.isExecutable(Path.of("/bin/busybox")), "Temurin 25 and busybox-static");
        Path calls = checkout.resolve("calls.txt");
        Path jdk25 = checkout.resolve("jdk-25");
        Files.createDirectories(jdk25.resolve("bin"));
        Files.writeString(jdk25.resolve("release"), "JAVA_VERSION=\"25.0.3\"\n");
        // source programs (the training registry) run on the real Java 25; a training build fails when its Dockerfile has a RUN
        script(jdk25.resolve("bin/java"), "echo \"java25 $*\" >> '" + calls + "'\n"
                + "case \"$1\" in *.java) exec " + realJava + " \"$@\" ;; esac\n"
                + "out=; ctx=; prev=\nfor a in \"$@\"; do case \"$a\" in -XX:AOTCacheOutput=*) out=\"${a#*=}\" ;; esac;"
                + " [ \"$prev\" = -c ] && ctx=\"$a\"; prev=\"$a\"; done\n"
                + "[ -n \"$out\" ] && grep -q '^RUN' \"$ctx/Dockerfile\" && exit 1\n[ -n \"$out\" ] && echo cache > \"$out\"\nexit 0\n");
        env.put("JAVA25_HOME", jdk25.toString());
        Files.createDirectories(jar.resolveSibling("app"));
        Files.writeString(jar.resolveSibling("app/kiln.jar"), "kiln");

        Result result = launch(null, "gc");
        assertEquals(0, result.exit(), result.output());
        List<String> lines = Files.readAllLines(calls);
        assertEquals(6, lines.size(), "class files, registry, base, training with RUN, training without, the command: " + lines);
        java.util.regex.Matcher base = java.util.regex.Pattern.compile(" -d 127\\.0\\.0\\.1:(\\d+)/kiln-aot/base:1 ").matcher(lines.get(2));
        assertTrue(lines.get(1).contains("TrainingRegistry.java") && base.find(), "a registry, then a base built into it: " + lines);
        String registry = "127.0.0.1:" + base.group(1);
        assertTrue(lines.get(3).contains("-XX:AOTCacheOutput=") && lines.get(3).endsWith(" --cache-repo " + registry + "/kiln-aot/cache-1"), lines.get(3));
        assertTrue(lines.get(4).contains("-XX:AOTCacheOutput=") && lines.get(4).endsWith(" --cache-repo " + registry + "/kiln-aot/cache-2"),
                "tried again without the RUN, with a cache repository of its own: " + lines.get(4));
        assertTrue(lines.get(5).contains("-XX:AOTCache=") && lines.get(5).endsWith(" gc"), "the command runs with the cache: " + lines.get(5));
        try (var socket = new java.net.Socket()) {
            socket.connect(new java.net.InetSocketAddress("127.0.0.1", Integer.parseInt(base.group(1))), 2000);
            org.junit.jupiter.api.Assertions.fail("the training registry still answers after the training");
        } catch (java.net.ConnectException stopped) {
            // what the launcher leaves behind: nothing listening
        }
    }

    @Test
    void aRealJava25TrainsAUsableCacheAndRunsOnWhenTheCacheIsCorrupt() throws Exception {
        Path jdk25 = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64");
        assertTrue(Files.isExecutable(jdk25.resolve("bin/java")), "Temurin 25 is installed on these machines: " + jdk25);
        env.put("JAVA25_HOME", jdk25.toString());
        // a stand-in for Kiln's jar: a KilnMain that says what it was asked
        Path src = checkout.resolve("stand-in/dev/kiln/app/cli/KilnMain.java");
        Files.createDirectories(src.getParent());
        Files.writeString(src, "package dev.kiln.app.cli;\npublic class KilnMain { public static void main(String[] a) {"
                + " System.out.println(\"kiln \" + String.join(\" \", a) + \" \" + new java.util.TreeMap<String, Integer>().getClass()); } }\n");
        Path classes = Files.createDirectories(checkout.resolve("stand-in/classes"));
        assertEquals(0, javax.tools.ToolProvider.getSystemJavaCompiler().run(null, null, null, "--release", "17", "-d", classes.toString(),
                src.toString()));
        Path appJar = Files.createDirectories(jar.resolveSibling("app")).resolve("kiln.jar");
        Result jarred = run(List.of("jar", "--create", "--file", appJar.toString(), "-C", classes.toString(), "."), null);
        assertEquals(0, jarred.exit(), jarred.output());
        String expected = "kiln gc --store x class java.util.TreeMap";

        Result first = launch(null, "gc", "--store", "x");
        assertEquals(0, first.exit(), first.output());
        assertTrue(first.output().contains("training an ahead-of-time cache"), first.output());
        assertTrue(first.output().endsWith(expected + "\n"), first.output());
        Path cache;
        try (var made = Files.list(checkout.resolve("target/kiln-aot"))) {
            cache = made.filter(p -> p.toString().endsWith(".aot")).findFirst().orElseThrow();
        }
        env.put("KILN_JAVA_OPTS", "-XX:AOTMode=on"); // a JVM that cannot map the cache fails instead of running on
        Result withTheCache = launch(null, "gc", "--store", "x");
        assertEquals(new Result(0, expected + "\n"), withTheCache, "the trained cache is used, and no training runs again");

        env.remove("KILN_JAVA_OPTS");
        Files.write(cache, new byte[4096]);
        Files.setLastModifiedTime(cache, FileTime.from(Instant.now().plusSeconds(60)));
        Result corrupt = launch(null, "gc", "--store", "x");
        assertEquals(new Result(0, expected + "\n"), corrupt, "a corrupt cache is ignored silently: no error lines, same output");
    }

    @Test
    void aFailedBuildSaysSoInOneLineAndRunsNothing() throws Exception {
        Path bin = Files.createDirectories(checkout.resolve("fake-bin"));
        Files.delete(jar);
        script(bin.resolve("mvn"), "echo '[ERROR] compilation failed'\nexit 1\n");
        script(bin.resolve("java"), "echo ran-java\n");
        Result result = launch(bin, "serve");
        assertEquals(1, result.exit(), result.output());
        assertTrue(result.output().contains("kiln: building the jar failed"), result.output());
        assertFalse(result.output().contains("ran-java"), result.output());
    }

    private void age(String file, long secondsAfterTheBuild) throws IOException {
        Files.setLastModifiedTime(checkout.resolve(file), FileTime.from(BUILT.plusSeconds(secondsAfterTheBuild)));
    }

    private boolean stale() throws Exception {
        Result result = run(List.of("bash", "-c", ". scripts/jar-freshness && kiln_jar_stale \"$PWD\" \"$PWD/target/quarkus-app/quarkus-run.jar\""),
                null);
        assertTrue(result.exit() == 0 || result.exit() == 1, "kiln_jar_stale answers 0 or 1:\n" + result.output());
        return result.exit() == 0;
    }

    private Result launch(Path bin, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("bash", checkout.resolve("kiln").toString()));
        command.addAll(List.of(args));
        return run(command, bin);
    }

    private Result run(List<String> command, Path bin) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).directory(checkout.toFile()).redirectErrorStream(true);
        if (bin != null) {
            builder.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        }
        builder.environment().remove("KILN_JAVA");
        builder.environment().remove("JAVA25_HOME");
        builder.environment().remove("KILN_JAVA_OPTS");
        builder.environment().putAll(env);
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "still running: " + command);
        return new Result(process.exitValue(), output);
    }

    private static void script(Path file, String body) throws IOException {
        Files.writeString(file, "#!/bin/sh\n" + body);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private record Result(int exit, String output) {
    }
}
