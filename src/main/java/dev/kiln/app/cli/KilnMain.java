package dev.kiln.app.cli;

import io.quarkus.runtime.annotations.QuarkusMain;
import picocli.CommandLine;

/**
 * Entry point of the jar. Only {@code serve} boots Quarkus; every other command is plain Java, so a
 * command-line run starts in a fraction of the time and never competes with a server for its port.
 */
@QuarkusMain
public class KilnMain {
    public static void main(String... args) {
        int exit = new CommandLine(new KilnCommand())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .execute(args);
        if (exit != 0 || args.length == 0 || !args[0].equals("serve")) {
            System.exit(exit);
        }
    }
}
