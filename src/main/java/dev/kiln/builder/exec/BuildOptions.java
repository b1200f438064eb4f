package dev.kiln.builder.exec;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Everything {@code kiln build} was asked to do, already parsed; see {@link Executor}. */
public record BuildOptions(
        Path dockerfile,
        Path context,
        List<String> destinations,
        Map<String, String> buildArgs,
        String target,
        Map<String, String> labels,
        boolean noPush,
        Path tarPath,
        Path ociLayoutPath,
        Path digestFile,
        Path imageNameWithDigestFile,
        boolean reproducible,
        String compression,
        int compressionLevel,
        String platform,
        List<String> registryMirrors,
        List<String> registryMaps,
        boolean skipDefaultRegistryFallback,
        List<String> insecureRegistries,
        int pushRetry,
        int downloadRetry,
        Path cacheDir,
        String sandbox,
        String snapshotMode) {

    public BuildOptions {
        destinations = List.copyOf(destinations);
        buildArgs = Map.copyOf(buildArgs);
        labels = Map.copyOf(labels);
        registryMirrors = List.copyOf(registryMirrors);
        registryMaps = List.copyOf(registryMaps);
        insecureRegistries = List.copyOf(insecureRegistries);
    }
}
