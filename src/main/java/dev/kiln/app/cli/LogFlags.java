package dev.kiln.app.cli;

import dev.kiln.builder.exec.BuildLog;
import java.io.PrintStream;
import java.time.Clock;
import picocli.CommandLine.Option;

/** kaniko's logging flags, shared by {@code kiln build} and {@code kiln warm} as kaniko's executor and warmer share them. */
class LogFlags {
    @Option(names = {"-v", "--verbosity"}, defaultValue = "info", description = "Log level: panic, fatal, error, warn, info, debug, trace (default ${DEFAULT-VALUE})")
    String verbosity;

    @Option(names = "--log-format", defaultValue = "text", description = "Log format: text, color (same as text) or json (one object per line: level, msg, time) (default ${DEFAULT-VALUE})")
    String logFormat;

    @Option(names = "--log-timestamp", arity = "0..1", fallbackValue = "true", description = "Start each text log line with the time")
    boolean logTimestamp;

    /** The log these flags ask for; an unknown level or format is an {@link IllegalArgumentException}. */
    BuildLog open(PrintStream err) {
        return new BuildLog(err, BuildLog.Format.parse(logFormat), BuildLog.Level.parse(verbosity), logTimestamp, Clock.systemUTC());
    }

    /** Byte progress of pulls and pushes, shown as these flags and the console allow (see {@link ProgressReporter}). */
    dev.kiln.registry.client.TransferProgress progress(BuildLog log, PrintStream err) {
        return ProgressReporter.forConsole(log, err, logFormat);
    }
}
