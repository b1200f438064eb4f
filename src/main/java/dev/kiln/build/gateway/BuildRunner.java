package dev.kiln.build.gateway;

import dev.kiln.build.exec.BuildException;
import dev.kiln.build.exec.Executor;
import dev.kiln.build.sandbox.Cancellation;
import dev.kiln.registry.client.Credentials;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/** Runs one accepted build to its end; {@link ExecutorBuildRunner} is the real one. */
public interface BuildRunner {

    /**
     * What a build needs while it runs.
     *
     * @param archive      the uploaded context, or null when {@code spec.context()} is a URL
     * @param workDir      an empty directory for this build only, removed afterwards
     * @param log          the build's log
     * @param caller       who submitted it and how they reached the gateway; null when unknown
     */
    record Job(String id, BuildSpec spec, Path archive, Path workDir, PrintStream log, Cancellation cancellation,
               Consumer<Executor.FinishedStep> steps, Caller caller) {
    }

    /**
     * The submitter as the HTTP request showed them, kept in memory only.
     *
     * @param gatewayHosts  {@code host:port} names that reach this gateway (plain HTTP)
     * @param credentials   the submitter's own credentials for this gateway, or null
     */
    record Caller(List<String> gatewayHosts, Credentials credentials) {
        public Caller {
            gatewayHosts = List.copyOf(gatewayHosts);
        }
    }

    /**
     * The built image's digest, the {@code name@digest} of every destination it was pushed to, and
     * what was reused and uploaded (null when the runner does not know).
     */
    record Outcome(String digest, List<String> pushed, BuildReport report) {
        public Outcome(String digest, List<String> pushed) {
            this(digest, pushed, null);
        }
    }

    Outcome run(Job job) throws BuildException;
}
