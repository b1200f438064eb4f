package dev.kiln.app.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * kaniko's flags that mean nothing to Kiln, or something Kiln always does differently: accepted so a
 * copied CI template runs, and answered with one line each saying what Kiln does instead.
 */
class KanikoNoOpFlags {
    @Option(names = "--skip-unused-stages", arity = "0..1", fallbackValue = "true",
            description = "kaniko's; Kiln always builds only the stages the target needs")
    Boolean skipUnusedStages;

    @Option(names = "--use-new-run", arity = "0..1", fallbackValue = "true", description = "kaniko's; accepted, see docs/kaniko.md")
    Boolean useNewRun;

    @Option(names = "--compressed-caching", arity = "0..1", fallbackValue = "true", description = "kaniko's; accepted, see docs/kaniko.md")
    Boolean compressedCaching;

    @Option(names = "--force-build-metadata", arity = "0..1", fallbackValue = "true", description = "kaniko's; accepted, see docs/kaniko.md")
    Boolean forceBuildMetadata;

    @Option(names = "--image-fs-extract-retry", description = "kaniko's; accepted, see docs/kaniko.md")
    Integer imageFsExtractRetry;

    /** One line per flag given; {@code registryClientCerts} is {@link PullFlags}' (shared with the warmer, so kept there). */
    List<String> warnings(List<String> registryClientCerts) {
        List<String> warnings = new ArrayList<>();
        if (useNewRun != null) {
            warnings.add("--use-new-run: Kiln finds a RUN's changes with its own snapshotter (--snapshot-mode) either way; the flag changes nothing");
        }
        if (compressedCaching != null) {
            warnings.add("--compressed-caching: Kiln streams layers through files, never holding them in memory, and always stores them compressed; the flag changes nothing");
        }
        if (forceBuildMetadata != null) {
            warnings.add("--force-build-metadata: Kiln adds no layer for metadata-only steps (LABEL, ENV, ...), which change the image config only; the flag changes nothing");
        }
        if (imageFsExtractRetry != null) {
            warnings.add("--image-fs-extract-retry: Kiln unpacks layers from verified local files, where a retry cannot help; downloads are retried with --image-download-retry");
        }
        if (!registryClientCerts.isEmpty()) {
            warnings.add("--registry-client-cert: Kiln presents no client certificate (mutual TLS) to registries; a registry that demands one refuses the pull or push");
        }
        if (Boolean.FALSE.equals(skipUnusedStages)) {
            warnings.add("--skip-unused-stages=false: Kiln always builds only the stages the target needs, as kaniko does with --skip-unused-stages=true");
        }
        return warnings;
    }
}
