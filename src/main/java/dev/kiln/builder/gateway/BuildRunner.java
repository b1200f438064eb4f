package dev.kiln.builder.gateway;

import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.Executor;
import dev.kiln.builder.sandbox.Cancellation;
import dev.kiln.registry.client.Credentials;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Runs one accepted build to its end: {@link ExecutorBuildRunner} in this process, or a runner
 * whose builds run elsewhere (a Kubernetes Job) and so can outlive the gateway; such a runner
 * detaches from its builds when the gateway stops and re-attaches to them when it starts again.
 */
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

    /**
     * Called once as the service opens, with the builds the previous process left running; answers
     * those whose work still goes on, which the service then runs again (so {@link #run} must
     * follow a build it already started rather than start it twice). The others end failed.
     */
    default Set<String> reattach(Set<String> leftRunning) {
        return Set.of();
    }

    /** Whether builds go on while the gateway is down, so that stopping detaches from them instead of cancelling them. */
    default boolean outlivesGateway() {
        return false;
    }

    /** The gateway is stopping: every {@link #run} in progress returns soon by throwing {@link Detached}. */
    default void detachAll() {
    }

    /** Thrown by {@link #run} when the gateway stops following a build that goes on without it; its record stays running. */
    final class Detached extends RuntimeException {
        public Detached(String message) {
            super(message);
        }
    }
}
