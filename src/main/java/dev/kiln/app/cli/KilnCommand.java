package dev.kiln.app.cli;

import picocli.CommandLine.Command;

@Command(name = "kiln", mixinStandardHelpOptions = true, versionProvider = KilnVersion.class,
        description = "Container-image gateway: OCI registry, pull-through mirror and daemonless builder.",
        subcommands = {ServeCommand.class, BuildCommand.class, WarmCommand.class, SubmitCommand.class, FsckCommand.class,
                GcCommand.class})
public class KilnCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }
}
