package dev.kiln.app.cli;

import dev.kiln.builder.exec.InPlaceOptions;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** kaniko's flags for building in the executor container's own root filesystem ({@code --sandbox in-place}). */
class InPlaceFlags {
    @Option(names = "--force", arity = "0..1", fallbackValue = "true", description = "With --sandbox in-place: build although this is not a marked executor container (KILN_EXECUTOR_CONTAINER=1)")
    boolean force;

    @Option(names = "--ignore-path", description = "With --sandbox in-place: a path of / to keep out of the wipe, the base image and the snapshots (repeatable)")
    List<String> ignorePaths = new ArrayList<>();

    @Option(names = {"--ignore-var-run", "--whitelist-var-run"}, arity = "0..1", defaultValue = "true", fallbackValue = "true",
            description = "With --sandbox in-place: keep /var/run out too (default ${DEFAULT-VALUE})")
    boolean ignoreVarRun;

    @Option(names = "--cleanup", arity = "0..1", fallbackValue = "true",
            description = "With --sandbox in-place: delete the image's files from / after the build (kaniko's: clean the filesystem at the end)")
    boolean cleanup;

    /** {@code mode}'s kaniko directory is never wiped or snapshotted either. */
    InPlaceOptions options(ExecutorMode mode) {
        List<String> ignored = new ArrayList<>(ignorePaths);
        if (mode.active()) {
            ignored.add(mode.kanikoDir().toString());
        }
        return new InPlaceOptions(force, cleanup, ignored, ignoreVarRun, InPlaceOptions.defaultKilnHome());
    }
}
