package dev.kiln.builder.sandbox;

import java.nio.file.Path;

/**
 * A mount for the duration of one RUN, with its host side already decided (see {@link MountResolver}
 * for turning a Dockerfile {@code --mount} into one). Targets are paths inside the rootfs; relative
 * ones are taken from the working directory. Mount points that did not exist are created for the
 * run and removed afterwards.
 */
public sealed interface RunMount {

    String target();

    /** A host file or directory; read-write binds write through to {@code source}. */
    record Bind(Path source, String target, boolean readOnly) implements RunMount {
    }

    /** A persistent host directory (one per cache id), mounted read-write unless {@code readOnly}. */
    record Cache(Path directory, String target, boolean readOnly) implements RunMount {
    }

    /** A host file holding a secret, mounted read-only as a file at {@code target}. */
    record Secret(Path file, String target) implements RunMount {
    }

    /** An empty tmpfs; {@code sizeBytes} null for the kernel default. */
    record Tmpfs(String target, Long sizeBytes) implements RunMount {
    }
}
