package dev.kiln.builder.exec;

import java.nio.file.Path;
import java.util.List;

/**
 * How {@code --sandbox in-place} treats the executor container's own root filesystem (kaniko's
 * flags of the same names).
 *
 * @param force        build in place although the container does not say it is an executor
 *                     container ({@code KILN_EXECUTOR_CONTAINER=1}); kaniko's {@code --force}
 * @param cleanup      after the build, delete the image's files from {@code /} again
 * @param ignorePaths  more paths to keep out of the wipe, the base image and the snapshots
 * @param ignoreVarRun keep {@code /var/run} too (kaniko's default: it holds the container's sockets)
 * @param kilnHome     where Kiln and its runtime live, kept like {@code /kaniko}
 */
public record InPlaceOptions(boolean force, boolean cleanup, List<String> ignorePaths, boolean ignoreVarRun,
                             Path kilnHome) {
    /** The launcher of a self-contained {@code /kiln} sets this system property. */
    public static final String KILN_HOME_PROPERTY = "dev.kiln.home";

    public static final InPlaceOptions DEFAULT = new InPlaceOptions(false, false, List.of(), true, defaultKilnHome());

    public InPlaceOptions {
        ignorePaths = List.copyOf(ignorePaths);
    }

    public static Path defaultKilnHome() {
        return Path.of(System.getProperty(KILN_HOME_PROPERTY, "/kiln"));
    }
}
