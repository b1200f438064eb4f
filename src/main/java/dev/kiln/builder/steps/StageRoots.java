package dev.kiln.builder.steps;

import dev.kiln.builder.exec.BuildException;
import java.nio.file.Path;

/** Other stages and images a step reads from: {@code COPY --from} and {@code RUN --mount=type=bind,from=}. */
public interface StageRoots {
    /** The files of the stage (by name or index) or image {@code from}, unpacked on first use. */
    Path rootfs(String from) throws BuildException;

    /** True in a dry run when the stage {@code from} missed the cache: its files, and so keys that read them, are unknown. */
    boolean incomplete(String from);

    /** For steps that read no other stage. */
    StageRoots NONE = new StageRoots() {
        @Override
        public Path rootfs(String from) throws BuildException {
            throw new BuildException("no stage or image " + from + " to read from");
        }

        @Override
        public boolean incomplete(String from) {
            return false;
        }
    };
}
