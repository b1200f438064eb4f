package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Slowness;
import dev.kiln.testkit.Tools;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class KilnMainTest {
    @Test
    void anExecutorContainerTakesKanikosFlagsWithoutASubcommand() {
        assertArrayEquals(new String[] {"build", "--dockerfile=Dockerfile", "--destination=r/a:1"},
                KilnMain.withImplicitBuild(new String[] {"--dockerfile=Dockerfile", "--destination=r/a:1"}, "1"));
    }

    @Test
    void aSubcommandOrATopLevelOptionIsKeptInAnExecutorContainer() {
        assertArrayEquals(new String[] {"serve", "--port", "5000"}, KilnMain.withImplicitBuild(new String[] {"serve", "--port", "5000"}, "1"));
        assertArrayEquals(new String[] {"build", "-c", "."}, KilnMain.withImplicitBuild(new String[] {"build", "-c", "."}, "1"));
        assertArrayEquals(new String[] {"--version"}, KilnMain.withImplicitBuild(new String[] {"--version"}, "1"));
        assertArrayEquals(new String[] {}, KilnMain.withImplicitBuild(new String[] {}, "1"));
    }

    @Test
    void outsideAnExecutorContainerFlagsFirstMeanWhatTheyAlwaysMeant() {
        assertArrayEquals(new String[] {"--dockerfile=Dockerfile"}, KilnMain.withImplicitBuild(new String[] {"--dockerfile=Dockerfile"}, null));
        assertArrayEquals(new String[] {"--dockerfile=Dockerfile"}, KilnMain.withImplicitBuild(new String[] {"--dockerfile=Dockerfile"}, "0"));
    }

    @Test
    void theVersionAloneTakesTheShortPathAndPrintsWhatPicocliPrints() {
        assertTrue(KilnMain.isVersionQuery(new String[] {"--version"}));
        assertTrue(KilnMain.isVersionQuery(new String[] {"-V"}));
        assertFalse(KilnMain.isVersionQuery(new String[] {"build", "--version"}), "a subcommand's own version goes through picocli");
        assertFalse(KilnMain.isVersionQuery(new String[] {"--version", "--help"}));
        assertFalse(KilnMain.isVersionQuery(new String[] {}));

        StringWriter out = new StringWriter();
        CommandLine command = KilnMain.commandLine();
        command.setOut(new PrintWriter(out, true));
        assertEquals(0, command.execute("--version"));
        assertEquals(out.toString().strip(), new KilnVersion().getVersion()[0], "the short path prints picocli's line");
    }

    @TempDir
    Path dir;

    private record Run(int exit, String err) {
    }

    private static Run run(String... args) {
        StringWriter err = new StringWriter();
        CommandLine command = KilnMain.commandLine(args);
        command.setErr(new PrintWriter(err, true));
        command.getSubcommands().values().forEach(sub -> sub.setErr(new PrintWriter(err, true)));
        return new Run(command.execute(args), err.toString());
    }

    @Test
    void aMistypedOptionGetsTheErrorAndASuggestionNotTheWholeHelp() {
        Run run = run("build", "--destinaton=r/a:1");
        assertEquals(2, run.exit(), run.err());
        assertTrue(run.err().startsWith("kiln build: Unknown option: '--destinaton=r/a:1'"), run.err());
        assertTrue(run.err().contains("--destination"), "suggests the right spelling: " + run.err());
        assertTrue(run.err().contains("Run `kiln build --help` for the options."), run.err());
        assertTrue(run.err().lines().count() <= 6, run.err());
    }

    @Test
    void aSubcommandRunKnowsThatCommandAloneAndHelpsAndAnswersAsTheWholeModelDoes() {
        CommandLine whole = KilnMain.commandLine();
        for (String name : whole.getSubcommands().keySet()) {
            CommandLine lean = KilnMain.commandLine(new String[] {name, "--help"});
            assertEquals(java.util.Set.of(name), lean.getSubcommands().keySet(), name);
            CommandLine sub = lean.getSubcommands().get(name);
            assertEquals("kiln " + name, sub.getCommandSpec().qualifiedName(" "));
            assertEquals(whole.getSubcommands().get(name).getUsageMessage(CommandLine.Help.Ansi.OFF),
                    sub.getUsageMessage(CommandLine.Help.Ansi.OFF), name + " --help");
            StringWriter out = new StringWriter();
            lean.setOut(new PrintWriter(out, true));
            assertEquals(0, lean.execute(name, "--version"), name);
            assertEquals(new KilnVersion().getVersion()[0], out.toString().strip(), name + " --version");
            assertTrue(lean.isCaseInsensitiveEnumValuesAllowed() && sub.isOverwrittenOptionsAllowed(), name);
        }
    }

    @Test
    void aMistypedSubcommandGetsTheWholeModelAndItsSuggestion() {
        assertEquals(6, KilnMain.commandLine(new String[] {"biuld"}).getSubcommands().size());
        assertEquals(6, KilnMain.commandLine(new String[] {"--help"}).getSubcommands().size());
        Run run = run("biuld", "-c", ".");
        assertEquals(2, run.exit(), run.err());
        assertTrue(run.err().contains("build"), "suggests the subcommand: " + run.err());
    }

    @Test
    void fsckOnAMistypedStoreRefusesInsteadOfCreatingAnEmptyOne() {
        Path typo = dir.resolve("cache-stor");
        Run run = run("fsck", "--store", typo.toString());
        assertEquals(2, run.exit(), run.err());
        assertEquals("kiln fsck: no store at " + typo + " (no blobs/ directory there): name it with --store or KILN_STORE",
                run.err().strip());
        assertFalse(Files.exists(typo), "no store was created");
        Run gc = run("gc", "--store", typo.toString());
        assertEquals(2, gc.exit(), gc.err());
        assertFalse(Files.exists(typo), "no store was created");
    }

    @Test
    void aCommandRunLooksForNoGroovyClassOnTheClassPath() {
        // the real entry point in a JVM of its own, which prints every class-path lookup it makes: a class
        // that is not there is looked for in every jar, opening each one
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ExecResult run = Tools.run(List.of(java, "-Dsun.misc.URLClassPath.debug=true", "-cp", System.getProperty("java.class.path"),
                KilnMain.class.getName(), "build", "--no-such-flag"), Map.of(), Slowness.scale(Duration.ofSeconds(60)).toSeconds());
        String output = run.output();
        assertEquals(2, run.exitCode(), Slowness.tail(output, 20));
        assertTrue(output.contains("URLClassPath.getResource(\""), "the JVM printed its lookups: " + Slowness.tail(output, 20));
        assertFalse(output.contains("groovy/lang/Closure"), "picocli's Groovy support looked for its class: " + Slowness.tail(output, 20));
    }
}
