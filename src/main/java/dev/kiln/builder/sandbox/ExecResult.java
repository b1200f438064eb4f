package dev.kiln.builder.sandbox;

import java.time.Duration;

/**
 * How a RUN ended.
 *
 * @param exitCode  the command's exit status; 128+signal when a signal ended it (as a shell reports)
 * @param duration  wall-clock time from start to exit
 * @param timedOut  the run hit {@link RunSpec#timeout()} and was killed
 * @param cancelled the run was cancelled (through {@link Cancellation} or thread interruption) and killed
 */
public record ExecResult(int exitCode, Duration duration, boolean timedOut, boolean cancelled) {

    public boolean succeeded() {
        return exitCode == 0 && !timedOut && !cancelled;
    }
}
