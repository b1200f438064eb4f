package dev.kiln.app.cli;

import dev.kiln.builder.sandbox.InPlaceSandbox;
import dev.kiln.store.StoreNotUsableException;
import io.quarkus.runtime.annotations.QuarkusMain;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Entry point of the jar. Only {@code serve} boots Quarkus; every other command is plain Java, so a
 * command-line run starts in a fraction of the time and never competes with a server for its port.
 */
@QuarkusMain
public class KilnMain {
    private static final Set<String> TOP_LEVEL_OPTIONS = Set.of("-h", "--help", "-V", "--version");
    private static final String JUL_FORMAT = "java.util.logging.SimpleFormatter.format";
    private static final String PICOCLI_CLOSURES_OFF = "picocli.disable.closures";

    public static void main(String... args) {
        // Short runs on a plain class path log through java.util.logging, without JBoss LogManager (the
        // launcher leaves it out: scripts/aot-cache): one line per record instead of the default two
        if (System.getProperty(JUL_FORMAT) == null) {
            System.setProperty(JUL_FORMAT, "%4$s: %3$s: %5$s%6$s%n");
        }
        // picocli's factory looks for Groovy's Closure class when it is first used, and that miss opens every
        // jar of the short runs' class path (229) before the first flag is read. Kiln has no Groovy, and no
        // annotation of ours is a closure. (A build's first registry request opens them all anyway, for the
        // JDK's URL handler providers; commands without one, and --help, are spared it.)
        if (System.getProperty(PICOCLI_CLOSURES_OFF) == null) {
            System.setProperty(PICOCLI_CLOSURES_OFF, "true");
        }
        if (isVersionQuery(args)) {
            // picocli's model of every command costs about 0.3 s of CPU; the version needs none of it
            System.out.println(new KilnVersion().getVersion()[0]);
            System.exit(0);
        }
        String[] effective = withImplicitBuild(args, System.getenv(InPlaceSandbox.MARKER));
        int exit = commandLine(effective).execute(effective);
        if (exit != 0 || effective.length == 0 || !effective[0].equals("serve")) {
            System.exit(exit);
        }
    }

    /** {@code kiln --version} or {@code -V} alone: what CI templates and health probes run first. */
    static boolean isVersionQuery(String[] args) {
        return args.length == 1 && (args[0].equals("--version") || args[0].equals("-V"));
    }

    /**
     * The command line for {@code args}: when they start with a subcommand's name, a {@code kiln}
     * that knows only that one. picocli reads the annotations of every option of every command it
     * is given, and the model of all six cost a short run about 30 ms of CPU for nothing: a build
     * never parses {@code serve}'s or {@code submit}'s flags. Anything else (no subcommand, a
     * top-level option, a mistyped name that deserves picocli's suggestion) gets the whole model.
     */
    static CommandLine commandLine(String[] args) {
        if (args.length > 0) {
            for (Class<?> type : KilnCommand.class.getAnnotation(Command.class).subcommands()) {
                if (type.getAnnotation(Command.class).name().equals(args[0])) {
                    CommandSpec kiln = CommandSpec.create().name("kiln").mixinStandardHelpOptions(true);
                    kiln.versionProvider(new KilnVersion());
                    CommandLine root = new CommandLine(kiln);
                    try {
                        root.addSubcommand(args[0], type.getDeclaredConstructor().newInstance());
                    } catch (ReflectiveOperationException e) {
                        throw new IllegalStateException("cannot make the " + args[0] + " command", e);
                    }
                    return configured(root);
                }
            }
        }
        return commandLine();
    }

    /**
     * The command line with every command. A single-valued flag given twice keeps the last
     * value, as kaniko's flag parser does: CI templates append flags to a shared base list.
     */
    static CommandLine commandLine() {
        return configured(new CommandLine(new KilnCommand()));
    }

    private static CommandLine configured(CommandLine commandLine) {
        return commandLine
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setOverwrittenOptionsAllowed(true)
                .setParameterExceptionHandler(KilnMain::shortUsageError)
                .setExecutionExceptionHandler((failure, command, parsed) -> {
                    if (failure instanceof StoreNotUsableException) {
                        command.getErr().println("kiln " + command.getCommandName() + ": " + failure.getMessage());
                        return 2;
                    }
                    throw failure;
                });
    }

    /**
     * A mistyped option gets the error, picocli's "did you mean" and where the help is: the whole
     * help of {@code build} is 150 lines, which push the one line that matters off the screen.
     */
    private static int shortUsageError(CommandLine.ParameterException failure, String[] args) {
        CommandLine command = failure.getCommandLine();
        java.io.PrintWriter err = command.getErr();
        err.println("kiln " + command.getCommandName() + ": " + failure.getMessage());
        CommandLine.UnmatchedArgumentException.printSuggestions(failure, err);
        String name = command.getCommandSpec().qualifiedName(" ");
        err.println("Run `" + (name.startsWith("kiln") ? name : "kiln " + name) + " --help` for the options.");
        return 2;
    }

    /**
     * In an executor container ({@code KILN_EXECUTOR_CONTAINER=1}) Kiln is a drop-in for kaniko's
     * executor, whose arguments are the build's flags with no subcommand: arguments that start with
     * a flag (other than --help and --version) are {@code kiln build}'s. A subcommand given first
     * is still honoured, so a generated Job and a person's {@code docker run … serve} say the same.
     */
    static String[] withImplicitBuild(String[] args, String executorMarker) {
        if (!"1".equals(executorMarker) || args.length == 0 || !args[0].startsWith("-")
                || TOP_LEVEL_OPTIONS.contains(args[0])) {
            return args;
        }
        String[] withBuild = new String[args.length + 1];
        withBuild[0] = "build";
        System.arraycopy(args, 0, withBuild, 1, args.length);
        return withBuild;
    }
}
