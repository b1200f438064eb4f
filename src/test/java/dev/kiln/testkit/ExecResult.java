package dev.kiln.testkit;

import java.nio.charset.StandardCharsets;

/** What a finished external process left: its exit code, its stdout as bytes and its stderr. */
public record ExecResult(int exitCode, byte[] stdoutBytes, String stderr) {
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
}
