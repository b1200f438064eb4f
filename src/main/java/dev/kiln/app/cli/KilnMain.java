package dev.kiln.app.cli;

import dev.kiln.builder.sandbox.InPlaceSandbox;
import dev.kiln.store.StoreNotUsableException;
import io.quarkus.runtime.annotations.QuarkusMain;
import java.util.Set;
import picocli.CommandLine;

/**
 * Entry point of the jar. Only {@code serve} boots Quarkus; every other command is plain Java, so a
 * command-line run starts in a fraction of the time and never competes with a server for its port.
 */
@QuarkusMain
public class KilnMain {
    private static final Set<String> TOP_LEVEL_OPTIONS = Set.of("-h", "--help", "-V", "--version");

    public static void main(String... args) {
        String[] effective = withImplicitBuild(args, System.getenv(InPlaceSandbox.MARKER));
        int exit = commandLine().execute(effective);
        if (exit != 0 || effective.length == 0 || !effective[0].equals("serve")) {
            System.exit(exit);
        }
    }

    /**
     * The command line as {@code main} runs it. A single-valued flag given twice keeps the last
     * value, as kaniko's flag parser does: CI templates append flags to a shared base list.
     */
    static CommandLine commandLine() {
        return new CommandLine(new KilnCommand())
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
