package dev.kiln.app.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** kaniko's flags for where base images come from, shared by {@code kiln build} and {@code kiln warm}. */
class PullFlags {
    @Option(names = "--custom-platform", description = "Platform to build and pull, e.g. linux/arm64 (default: the host's)")
    String platform;

    @Option(names = "--registry-mirror", description = "Registry mirror for docker.io (repeatable)")
    List<String> registryMirrors = new ArrayList<>();

    @Option(names = "--registry-map", description = "ORIGINAL=MIRROR[;MIRROR] registry mapping (repeatable)")
    List<String> registryMaps = new ArrayList<>();

    @Option(names = "--skip-default-registry-fallback", description = "Do not fall back to the original registry when mirrors fail")
    boolean skipDefaultRegistryFallback;

    @Option(names = "--insecure-pull", description = "Pull base images over plain HTTP")
    boolean insecurePull;

    @Option(names = "--insecure-registry", description = "Registry to use over plain HTTP (repeatable)")
    List<String> insecureRegistries = new ArrayList<>();

    @Option(names = "--image-download-retry", defaultValue = "0", description = "Retries for a failed base image download (default ${DEFAULT-VALUE})")
    int imageDownloadRetry;
}
