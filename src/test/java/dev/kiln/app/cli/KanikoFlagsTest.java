package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every flag of kaniko's executor and warmer (the lists in src/test/resources/kaniko, taken from
 * kaniko's source) is taken by Kiln with kaniko's spelling, in every form kaniko's flag parser takes.
 */
class KanikoFlagsTest {

    /** One line of a flag list: name, one-letter shorthand or "-", type, a sample value. */
    record Flag(String name, String shorthand, String type, String sample) {
        List<List<String>> forms() {
            List<List<String>> forms = new ArrayList<>();
            forms.add(List.of("--" + name + "=" + sample));
            if (type.equals("bool")) {
                forms.add(List.of("--" + name));
                forms.add(List.of("--" + name + "=false"));
            } else {
                forms.add(List.of("--" + name, sample));
            }
            if (!shorthand.equals("-")) {
                forms.add(type.equals("bool") ? List.of("-" + shorthand) : List.of("-" + shorthand, sample));
                if (!type.equals("bool")) {
                    forms.add(List.of("-" + shorthand + "=" + sample));
                }
            }
            return forms;
        }
    }

    static List<Flag> flags(String resource) throws IOException {
        List<Flag> flags = new ArrayList<>();
        try (InputStream in = KanikoFlagsTest.class.getResourceAsStream("/kaniko/" + resource)) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] f = line.split("\t");
                flags.add(new Flag(f[0], f[1], f[2], f[3]));
            }
        }
        return flags;
    }

    private static void assertParses(List<String> args, String what) {
        try {
            KilnMain.commandLine().parseArgs(args.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            fail(what + " " + args + ": " + e.getMessage());
        }
    }

    @Test
    void everyKanikoExecutorFlagIsAcceptedInEveryFormAsTheExecutorsFirstArgument() throws IOException {
        List<Flag> flags = flags("executor-flags.txt");
        assertTrue(flags.size() >= 60, "the list has kaniko's flags: " + flags.size());
        List<String> all = new ArrayList<>();
        for (Flag flag : flags) {
            for (List<String> form : flag.forms()) {
                // the executor image's rule: kaniko's arguments with no subcommand
                assertParses(List.of(KilnMain.withImplicitBuild(form.toArray(String[]::new), "1")), "kaniko executor flag");
                List<String> withBuild = new ArrayList<>(List.of("build"));
                withBuild.addAll(form);
                assertParses(withBuild, "kiln build with kaniko's flag");
            }
            all.addAll(flag.forms().get(0));
        }
        // all at once, as a long CI template gives them
        assertParses(List.of(KilnMain.withImplicitBuild(all.toArray(String[]::new), "1")), "all of kaniko's flags together");
    }

    @Test
    void everyKanikoWarmerFlagIsAcceptedWithKanikosMeaningOfItsShortForms() throws IOException {
        for (Flag flag : flags("warmer-flags.txt")) {
            for (List<String> form : flag.forms()) {
                List<String> args = new ArrayList<>(List.of("warm"));
                args.addAll(form);
                assertParses(args, "kaniko warmer flag");
            }
        }
        WarmCommand warm = new WarmCommand();
        new CommandLine(warm).parseArgs("-d", "Dockerfile.warm", "-f", "-c", "/var/cache/k", "-i", "a:1", "-i", "b:2");
        assertEquals(Path.of("Dockerfile.warm"), warm.dockerfile, "-d is the Dockerfile, as in kaniko's warmer");
        assertTrue(warm.force, "-f is --force, as in kaniko's warmer");
        assertEquals(Path.of("/var/cache/k"), warm.cacheDir);
        assertEquals(List.of("a:1", "b:2"), warm.images);
        WarmCommand defaults = new WarmCommand();
        new CommandLine(defaults).parseArgs("-i", "a:1");
        assertEquals(Path.of("/cache"), defaults.cacheDir, "kaniko's default cache dir");
    }

    @Test
    void kanikosDeprecatedSpellingsSetTheSameOptions() {
        BuildCommand build = new BuildCommand();
        new CommandLine(build).parseArgs("--snapshotMode=redo", "--customPlatform=linux/arm64", "--tarPath=/tmp/i.tar",
                "--whitelist-var-run=false", "--cache=true", "--cleanup=false", "--no-push");
        assertEquals("redo", build.snapshotMode);
        assertEquals("linux/arm64", build.pull.platform);
        assertEquals(Path.of("/tmp/i.tar"), build.files.tarPath);
        assertFalse(build.inPlace.ignoreVarRun, "--whitelist-var-run is --ignore-var-run");
        assertTrue(build.caching.cache);
        assertFalse(build.inPlace.cleanup);
        assertTrue(build.noPush);
    }

    /** Each flag that means nothing to Kiln: accepted, and exactly one warning line that names it. */
    @Test
    void aKanikoFlagKilnDoesNotImplementGivesExactlyOneWarningLine() {
        List<List<String>> unimplemented = List.of(
                List.of("--use-new-run"), List.of("--compressed-caching=false"),
                List.of("--force-build-metadata"), List.of("--image-fs-extract-retry=3"),
                List.of("--registry-client-cert=r.test=/c.pem,/k.pem"), List.of("--skip-unused-stages=false"));
        for (List<String> flag : unimplemented) {
            List<String> args = new ArrayList<>(flag);
            // no destination: the command stops right after its warnings, before any build
            String err = runBuild(args, Map.of());
            String name = flag.get(0).replaceFirst("=.*", "");
            long lines = err.lines().filter(l -> l.contains(name)).count();
            assertEquals(1, lines, name + " gives one warning line:\n" + err);
            assertTrue(err.lines().anyMatch(l -> l.contains(name) && l.toLowerCase().contains("warn")), err);
        }
        String quiet = runBuild(List.of("--skip-unused-stages=true", "--cache-run-layers=true"), Map.of());
        assertFalse(quiet.contains("--skip-unused-stages"), "what Kiln does anyway is not warned about:\n" + quiet);
    }

    @Test
    void buildVersionPrintsTheVersionNeverAnEmptyLine() {
        for (String[] args : List.of(new String[] {"build", "--version"}, new String[] {"--version"},
                KilnMain.withImplicitBuild(new String[] {"--version"}, "1"), new String[] {"warm", "--version"})) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            CommandLine cl = KilnMain.commandLine();
            cl.setOut(new java.io.PrintWriter(out, true));
            assertEquals(0, cl.execute(args));
            String printed = out.toString(StandardCharsets.UTF_8).trim();
            assertTrue(printed.matches("kiln \\d+\\.\\d+\\.\\d+\\S*"), String.join(" ", args) + " printed '" + printed + "'");
        }
    }

    @Test
    void kanikosMultiRegistryMapFormMapsEachRegistry() {
        var routes = dev.kiln.registry.client.MirrorRoutes.of(List.of(),
                List.of("index.docker.io=mirror.test:5000;quay.io=mirror.test:5000/quay.io;quay.io=other.test"), false);
        var hub = routes.candidates(dev.kiln.oci.image.ImageReference.parse("busybox:1")).stream()
                .map(r -> r.registry()).toList();
        var quay = routes.candidates(dev.kiln.oci.image.ImageReference.parse("quay.io/podman/hello")).stream()
                .map(r -> r.registry() + "/" + r.repository().value()).toList();
        assertEquals(List.of("mirror.test:5000", "docker.io"), hub);
        assertEquals(List.of("mirror.test:5000/quay.io/podman/hello", "other.test/podman/hello", "quay.io/podman/hello"), quay);
    }

    static String runBuild(List<String> args, Map<String, String> env) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
        new CommandLine(new BuildCommand(errStream, errStream, new ByteArrayInputStream(new byte[0]), env))
                .execute(args.toArray(String[]::new));
        return err.toString(StandardCharsets.UTF_8);
    }

    /** docs/kaniko.md lists every flag of both lists in its tables. */
    @Test
    void theMigrationPageHasARowForEveryKanikoFlag() throws IOException {
        String page = Files.readString(Path.of("docs/kaniko.md"));
        for (String list : List.of("executor-flags.txt", "warmer-flags.txt")) {
            for (Flag flag : flags(list)) {
                assertTrue(page.lines().anyMatch(l -> l.startsWith("| `--" + flag.name() + "`")),
                        "docs/kaniko.md has no row for --" + flag.name() + " (" + list + ")");
            }
        }
    }
}
