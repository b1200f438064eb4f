package dev.kiln.testkit;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** What a finished external process left: the command, its exit code, its stdout as bytes and its stderr. */
public record ExecResult(List<String> command, int exitCode, byte[] stdoutBytes, String stderr) {
    public boolean ok() {
        return exitCode == 0;
    }

    public String stdout() {
        return new String(stdoutBytes, StandardCharsets.UTF_8);
    }

    /** stdout then stderr, for assertions and failure messages. */
    public String output() {
        String out = stdout();
        return stderr.isEmpty() ? out : out + (out.isEmpty() || out.endsWith("\n") ? "" : "\n") + stderr;
    }

    /** This result; fails the test with the command and its output when it exited non-zero. */
    public ExecResult requireSuccess() {
        if (exitCode != 0) {
            throw new AssertionError(String.join(" ", command) + " exited " + exitCode + ":\n" + output());
        }
        return this;
    }
}
