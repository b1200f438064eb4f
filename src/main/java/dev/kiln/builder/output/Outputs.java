package dev.kiln.builder.output;

import java.nio.file.Path;
import java.util.List;

/**
 * Where a built image goes: registry destinations (pushed unless {@code noPush}), a docker archive,
 * an OCI layout, and files naming its digest (each null when not asked for).
 */
public record Outputs(List<String> destinations, boolean noPush, Path tarPath, Path ociLayoutPath, Path digestFile,
                      Path imageNameWithDigestFile) {
    public Outputs {
        destinations = List.copyOf(destinations);
    }
}
