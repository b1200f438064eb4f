package dev.kiln.app.cli;

import dev.kiln.build.exec.BuildException;
import dev.kiln.build.exec.BuildOptions;
import dev.kiln.build.exec.Executor;
import dev.kiln.build.snapshot.Snapshotters;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kiln build}: kaniko's flags, plain Java (never boots Quarkus). */
@Command(name = "build", mixinStandardHelpOptions = true,
        description = {"Build a Dockerfile without a daemon and push the image (kaniko-compatible flags).",
                "The layer cache flags (--cache, --cache-repo, --cache-ttl, --cache-copy-layers, --cache-run-layers) "
                        + "are accepted but have no effect yet: caching arrives with the cache issue."})
public class BuildCommand implements Callable<Integer> {
    @Option(names = {"-f", "--dockerfile"}, defaultValue = "Dockerfile", description = "Path to the Dockerfile (default ${DEFAULT-VALUE}, relative to the context if not found)")
    String dockerfile;

    @Option(names = {"-c", "--context"}, defaultValue = ".", description = "Build context: a directory, dir://DIR or tar://FILE.tar[.gz] (default ${DEFAULT-VALUE})")
    String context;

    @Option(names = {"-d", "--destination"}, description = "Image to push to (repeatable)")
    List<String> destinations = new ArrayList<>();

    @Option(names = "--build-arg", description = "KEY=VALUE, or KEY to take the value from the environment (repeatable)")
    List<String> buildArgs = new ArrayList<>();

    @Option(names = "--target", description = "Stage to build; only the stages it needs are built")
    String target;

    @Option(names = "--label", description = "KEY=VALUE label added to the image (repeatable)")
    List<String> labels = new ArrayList<>();

    @Option(names = "--no-push", description = "Build only; do not push")
    boolean noPush;

    @Option(names = "--tar-path", description = "Also write the image as a docker-archive tarball here")
    Path tarPath;

    @Option(names = "--oci-layout-path", description = "Also write the image as an OCI image layout here")
    Path ociLayoutPath;

    @Option(names = "--digest-file", description = "Write the image digest to this file")
    Path digestFile;

    @Option(names = "--image-name-with-digest-file", description = "Write NAME@DIGEST for each destination to this file")
    Path imageNameWithDigestFile;

    @Option(names = "--reproducible", description = "Strip timestamps from layers and the config")
    boolean reproducible;

    @Option(names = "--compression", defaultValue = "gzip", description = "Layer compression: gzip or zstd (default ${DEFAULT-VALUE})")
    String compression;

    @Option(names = "--compression-level", defaultValue = "-1", description = "Compression level (default: the algorithm's)")
    int compressionLevel;

    @Option(names = "--custom-platform", description = "Target platform, e.g. linux/arm64 (default: the host's)")
    String platform;

    @Option(names = "--registry-mirror", description = "Registry mirror for docker.io (repeatable)")
    List<String> registryMirrors = new ArrayList<>();

    @Option(names = "--registry-map", description = "ORIGINAL=MIRROR[;MIRROR] registry mapping (repeatable)")
    List<String> registryMaps = new ArrayList<>();

    @Option(names = "--skip-default-registry-fallback", description = "Do not fall back to the original registry when mirrors fail")
    boolean skipDefaultRegistryFallback;

    @Option(names = "--insecure", description = "Push to the destinations over plain HTTP")
    boolean insecure;

    @Option(names = "--insecure-pull", description = "Pull base images over plain HTTP")
    boolean insecurePull;

    @Option(names = "--insecure-registry", description = "Registry to use over plain HTTP (repeatable)")
    List<String> insecureRegistries = new ArrayList<>();

    @Option(names = "--skip-tls-verify", description = "Accepted for compatibility; certificate checks are not skipped yet")
    boolean skipTlsVerify;

    @Option(names = "--skip-tls-verify-pull", description = "Accepted for compatibility; certificate checks are not skipped yet")
    boolean skipTlsVerifyPull;

    @Option(names = "--push-retry", defaultValue = "0", description = "Retries for a failed push (default ${DEFAULT-VALUE})")
    int pushRetry;

    @Option(names = "--image-download-retry", defaultValue = "0", description = "Retries for a failed base image download (default ${DEFAULT-VALUE})")
    int imageDownloadRetry;

    @Option(names = "--cache-dir", description = "Where pulled base image blobs are kept between builds")
    Path cacheDir;

    @Option(names = {"-v", "--verbosity"}, defaultValue = "info", description = "Log level: panic, fatal, error, warn, info, debug, trace; below info only errors are printed")
    String verbosity;

    @Option(names = "--sandbox", defaultValue = "auto", description = "How RUN is isolated: auto, namespaces, proot, in-place (default ${DEFAULT-VALUE})")
    String sandbox;

    @Option(names = "--snapshot-mode", defaultValue = "auto", description = "How step changes are found: auto (a RUN's "
            + "overlayfs upper dir where the kernel allows, else a walk), overlay (fail instead of walking for RUN), "
            + "walk; kaniko's full, redo and time walk (default ${DEFAULT-VALUE})")
    String snapshotMode;

    @Option(names = "--cache", description = "Layer cache (arrives with the cache issue; no effect yet)")
    boolean cache;

    @Option(names = "--cache-repo", description = "Layer cache repository (arrives with the cache issue; no effect yet)")
    String cacheRepo;

    @Option(names = "--cache-ttl", description = "Layer cache TTL (arrives with the cache issue; no effect yet)")
    String cacheTtl;

    @Option(names = "--cache-copy-layers", description = "Cache COPY layers (arrives with the cache issue; no effect yet)")
    boolean cacheCopyLayers;

    @Option(names = "--cache-run-layers", description = "Cache RUN layers (arrives with the cache issue; no effect yet)")
    Boolean cacheRunLayers;

    private final PrintStream err;

    public BuildCommand() {
        this(System.err);
    }

    /** With progress and errors going to {@code err} instead of standard error. */
    public BuildCommand(PrintStream err) {
        this.err = err;
    }

    @Override
    public Integer call() {
        try {
            String contextPath = context.startsWith("dir://") ? context.substring("dir://".length())
                    : context.startsWith("tar://") ? context.substring("tar://".length()) : context;
            Path contextDir = Path.of(contextPath).toAbsolutePath().normalize();
            if (context.contains("://") && !context.startsWith("dir://") && !context.startsWith("tar://")) {
                err.println("error: unsupported context " + context + " (a directory, dir://DIR or tar://FILE.tar[.gz])");
                return 1;
            }
            try {
                Snapshotters.Mode.of(snapshotMode);
            } catch (IllegalArgumentException e) {
                err.println("error: --snapshot-mode: " + e.getMessage());
                return 1;
            }
            if (destinations.isEmpty() && !noPush && tarPath == null && ociLayoutPath == null) {
                err.println("error: give at least one --destination, or --no-push");
                return 1;
            }
            Map<String, String> args = new LinkedHashMap<>();
            for (String a : buildArgs) {
                int eq = a.indexOf('=');
                if (eq < 0) {
                    String v = System.getenv(a);
                    if (v != null) {
                        args.put(a, v);
                    }
                } else {
                    args.put(a.substring(0, eq), a.substring(eq + 1));
                }
            }
            Map<String, String> labelMap = new LinkedHashMap<>();
            for (String l : labels) {
                int eq = l.indexOf('=');
                labelMap.put(eq < 0 ? l : l.substring(0, eq), eq < 0 ? "" : l.substring(eq + 1));
            }
            if (cache || cacheRepo != null) {
                err.println("warning: the layer cache is not implemented yet; building without it");
            }
            if (skipTlsVerify || skipTlsVerifyPull) {
                err.println("warning: --skip-tls-verify is not implemented yet; certificates are still verified");
            }
            BuildOptions options = new BuildOptions(Path.of(dockerfile), contextDir, destinations, args, target, labelMap,
                    noPush, tarPath, ociLayoutPath, digestFile, imageNameWithDigestFile, reproducible, compression,
                    compressionLevel, platform, registryMirrors, registryMaps, skipDefaultRegistryFallback,
                    insecureRegistries, pushRetry, imageDownloadRetry, cacheDir, sandbox, snapshotMode);
            boolean quiet = List.of("panic", "fatal", "error", "warn").contains(verbosity.toLowerCase(java.util.Locale.ROOT));
            PrintStream progress = quiet ? new PrintStream(java.io.OutputStream.nullOutputStream()) : err;
            new Executor(options, progress).insecure(insecurePull, insecure).build();
            return 0;
        } catch (BuildException e) {
            err.println("error: " + e.getMessage());
            return 1;
        } catch (RuntimeException e) {
            err.println("error: " + e);
            return 1;
        }
    }
}
