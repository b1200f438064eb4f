package dev.kiln.builder.dockerfile;

import java.util.List;

/** A RUN/CMD/ENTRYPOINT/HEALTHCHECK command: exec form runs argv directly, shell form runs via SHELL. */
public sealed interface Command {

    /** {@code ["executable", "arg"]}. */
    record ExecForm(List<String> args) implements Command {
        public ExecForm {
            args = List.copyOf(args);
        }
    }

    /** {@code command text}, passed to the stage's shell (default {@code /bin/sh -c}). */
    record ShellForm(String script) implements Command {
    }
}
