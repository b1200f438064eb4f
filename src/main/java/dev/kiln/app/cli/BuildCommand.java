package dev.kiln.app.cli;

import dev.kiln.build.cache.RegistryLayerCache;
import dev.kiln.build.context.ContextException;
import dev.kiln.build.context.ContextSource;
import dev.kiln.build.context.ContextSources;
import dev.kiln.build.context.Downloads;
import dev.kiln.build.context.GitOptions;
import dev.kiln.build.exec.BuildException;
import dev.kiln.build.exec.BuildInputs;
import dev.kiln.build.exec.BuildLog;
import dev.kiln.build.exec.BuildOptions;
import dev.kiln.build.exec.Executor;
import dev.kiln.build.exec.InPlaceOptions;
import dev.kiln.build.dockerfile.GoDuration;
import dev.kiln.build.exec.SecretFlags;
import dev.kiln.oci.RepositoryName;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.BlobCache;
import dev.kiln.registry.client.DockerCredentials;
import dev.kiln.registry.client.Registries;
import dev.kiln.registry.client.RegistrySecurity;
import java.io.InputStream;
import dev.kiln.build.snapshot.Snapshotters;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code kiln build}: kaniko's flags, plain Java (never boots Quarkus). */
@Command(name = "build", mixinStandardHelpOptions = true,
        description = "Build a Dockerfile without a daemon and push the image (kaniko-compatible flags).")
public class BuildCommand implements Callable<Integer> {
    @Mixin
    PullFlags pull = new PullFlags();

    @Option(names = {"-f", "--dockerfile"}, defaultValue = "Dockerfile", description = "Path to the Dockerfile (default ${DEFAULT-VALUE}, relative to the context if not found), or an http(s) URL")
    String dockerfile;

    @Option(names = {"-c", "--context"}, defaultValue = ".", description = "Build context: a directory, dir://DIR, tar://FILE.tar[.gz], tar://stdin, "
            + "https://HOST/CONTEXT.tar.gz, git://HOST/REPO[#REF[#COMMIT]] (over https), git+git://|git+https://|git+ssh://|git+file://…, "
            + "s3://BUCKET/KEY (default ${DEFAULT-VALUE})")
    String context;

    @Option(names = "--context-sub-path", description = "Directory inside the context to use as the context")
    String contextSubPath;

    @Option(names = "--git", description = "Git context options: branch=NAME,single-branch=BOOL,recurse-submodules=BOOL,depth=N,insecure-skip-tls=BOOL (repeatable)")
    List<String> git = new ArrayList<>();

    @Option(names = "--secret", description = "A secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR (repeatable)")
    List<String> secrets = new ArrayList<>();

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

    @Option(names = "--insecure", description = "Push to the destinations over plain HTTP; also allows http:// contexts and Dockerfiles")
    boolean insecure;

    @Option(names = "--skip-tls-verify", description = "Push without checking the destinations' TLS certificates; also for https:// contexts and Dockerfiles")
    boolean skipTlsVerify;

    @Option(names = "--skip-tls-verify-pull", description = "Pull base images without checking TLS certificates")
    boolean skipTlsVerifyPull;

    @Option(names = "--skip-tls-verify-registry", description = "Registry whose TLS certificate is not checked, for pulls and pushes (repeatable)")
    List<String> skipTlsVerifyRegistries = new ArrayList<>();

    @Option(names = "--registry-certificate", description = "HOST=CA.pem: trust this CA (PEM) for that registry (repeatable)")
    List<String> registryCertificates = new ArrayList<>();

    @Option(names = "--push-retry", defaultValue = "0", description = "Retries for a failed push (default ${DEFAULT-VALUE})")
    int pushRetry;

    @Option(names = "--cache-dir", description = "Where pulled base image blobs are kept between builds")
    Path cacheDir;

    @Option(names = {"-v", "--verbosity"}, defaultValue = "info", description = "Log level: panic, fatal, error, warn, info, debug, trace (default ${DEFAULT-VALUE})")
    String verbosity;

    @Option(names = "--log-format", defaultValue = "text", description = "Log format: text, color (same as text) or json (one object per line: level, msg, time) (default ${DEFAULT-VALUE})")
    String logFormat;

    @Option(names = "--log-timestamp", description = "Start each text log line with the time")
    boolean logTimestamp;

    @Option(names = "--sandbox", defaultValue = "auto", description = "How RUN is isolated: auto, namespaces, proot, in-place (default ${DEFAULT-VALUE})")
    String sandbox;

    @Option(names = "--network", defaultValue = "default", description = "RUN's network: default (the host's, as "
            + "with kaniko; RUN --network=none still isolates) or none (every RUN gets loopback only) (default ${DEFAULT-VALUE})")
    String network;

    @Option(names = "--force", description = "With --sandbox in-place: build although this is not a marked executor container (KILN_EXECUTOR_CONTAINER=1)")
    boolean force;

    @Option(names = "--ignore-path", description = "With --sandbox in-place: a path of / to keep out of the wipe, the base image and the snapshots (repeatable)")
    List<String> ignorePaths = new ArrayList<>();

    @Option(names = "--ignore-var-run", arity = "0..1", defaultValue = "true", fallbackValue = "true",
            description = "With --sandbox in-place: keep /var/run out too (default ${DEFAULT-VALUE})")
    boolean ignoreVarRun;

    @Option(names = "--cleanup", description = "With --sandbox in-place: delete the image's files from / after the build")
    boolean cleanup;

    @Option(names = "--snapshot-mode", defaultValue = "auto", description = "How step changes are found: auto (a RUN's "
            + "overlayfs upper dir where the kernel allows, else a walk), overlay (fail instead of walking for RUN), "
            + "walk; kaniko's full, redo and time walk (default ${DEFAULT-VALUE})")
    String snapshotMode;

    @Option(names = "--cache", description = "Use the layer cache: steps found in --cache-repo are not run, the others' layers are stored there")
    boolean cache;

    @Option(names = "--cache-repo", description = "Repository holding the layer cache (default: <first destination>/cache)")
    String cacheRepo;

    @Option(names = "--cache-ttl", defaultValue = "336h", description = "How long a cached layer is used, Go duration (default ${DEFAULT-VALUE})")
    String cacheTtl;

    @Option(names = "--cache-copy-layers", arity = "0..1", defaultValue = "true", fallbackValue = "true",
            description = "Cache the layers of COPY and ADD (default ${DEFAULT-VALUE})")
    boolean cacheCopyLayers;

    @Option(names = "--cache-run-layers", arity = "0..1", defaultValue = "true", fallbackValue = "true",
            description = "Cache the layers of RUN (default ${DEFAULT-VALUE})")
    boolean cacheRunLayers;

    @Option(names = "--single-snapshot", description = "One layer per stage, snapshotted after its last step")
    boolean singleSnapshot;

    @Option(names = "--image-name-tag-with-digest-file", description = "Write NAME:TAG@DIGEST for each destination to this file")
    Path imageNameTagWithDigestFile;

    @Option(names = "--dry-run", description = "With --cache: print each step with its cache key and HIT or MISS, run nothing, push nothing")
    boolean dryRun;

    private final PrintStream out;
    private final PrintStream err;
    private final InputStream stdin;
    private final Map<String, String> env;

    public BuildCommand() {
        this(System.out, System.err, System.in, System.getenv());
    }

    /** With progress and errors going to {@code err} instead of standard error. */
    public BuildCommand(PrintStream err) {
        this(System.out, err, System.in, System.getenv());
    }

    /** With the {@code --dry-run} plan going to {@code out}, progress and errors to {@code err}. */
    public BuildCommand(PrintStream out, PrintStream err) {
        this(out, err, System.in, System.getenv());
    }

    /** {@code stdin} feeds {@code tar://stdin}; {@code env} supplies secrets, S3 and git settings. */
    public BuildCommand(PrintStream err, InputStream stdin, Map<String, String> env) {
        this(System.out, err, stdin, env);
    }

    public BuildCommand(PrintStream out, PrintStream err, InputStream stdin, Map<String, String> env) {
        this.out = out;
        this.err = err;
        this.stdin = stdin;
        this.env = Map.copyOf(env);
    }

    @Override
    public Integer call() {
        BuildLog log;
        try {
            log = new BuildLog(err, BuildLog.Format.parse(logFormat), BuildLog.Level.parse(verbosity), logTimestamp,
                    Clock.systemUTC());
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
        try {
            try {
                Snapshotters.Mode.of(snapshotMode);
            } catch (IllegalArgumentException e) {
                log.log(BuildLog.Level.FATAL, "--snapshot-mode: " + e.getMessage());
                return 1;
            }
            if (destinations.isEmpty() && !noPush && tarPath == null && ociLayoutPath == null && !dryRun) {
                log.log(BuildLog.Level.FATAL, "give at least one --destination, or --no-push");
                return 1;
            }
            Map<String, String> args = KeyValueFlags.buildArgs(buildArgs, env);
            Map<String, String> labelMap = KeyValueFlags.labels(labels);
            if (singleSnapshot && cache) {
                log.log(BuildLog.Level.FATAL, "--single-snapshot and --cache do not mix: the cache keeps one layer per step");
                return 1;
            }
            if (dryRun && !cache) {
                log.log(BuildLog.Level.FATAL, "--dry-run shows the layer cache's plan; give --cache too");
                return 1;
            }
            // a gateway's one-time context URL is plain HTTP inside a cluster, and its host is a registry named insecure already
            Downloads downloads = Downloads.of(insecure || plainHttpRegistryHost(context), skipTlsVerify);
            ContextSource source = ContextSources.parse(context, new ContextSources.Settings(downloads,
                    GitOptions.parse(git), env, stdin, log::warn, log::debug));
            boolean remoteDockerfile = dockerfile.startsWith("https://") || dockerfile.startsWith("http://");
            BuildInputs inputs = new BuildInputs(source, contextSubPath, remoteDockerfile ? URI.create(dockerfile) : null,
                    downloads, SecretFlags.parse(secrets, env));
            BuildOptions options = new BuildOptions(remoteDockerfile ? Path.of("Dockerfile") : Path.of(dockerfile),
                    Path.of("."), destinations, args, target, labelMap,
                    noPush, tarPath, ociLayoutPath, digestFile, imageNameWithDigestFile, reproducible, compression,
                    compressionLevel, pull.platform, pull.registryMirrors, pull.registryMaps, pull.skipDefaultRegistryFallback,
                    pull.insecureRegistries, pushRetry, pull.imageDownloadRetry, cacheDir, sandbox, snapshotMode);
            Map<String, Path> certificates = certificates();
            Set<String> plain = Set.copyOf(pull.insecureRegistries);
            Set<String> unchecked = Set.copyOf(skipTlsVerifyRegistries);
            RegistrySecurity pushSecurity = new RegistrySecurity(insecure, plain, skipTlsVerify, unchecked, certificates);
            if (!network.equals("default") && !network.equals("none")) {
                log.log(BuildLog.Level.FATAL, "--network must be default or none, not " + network);
                return 1;
            }
            Executor executor = new Executor(options, log)
                    .network(network.equals("default"))
                    .inputs(inputs)
                    .inPlace(new InPlaceOptions(force, cleanup, ignorePaths, ignoreVarRun, InPlaceOptions.defaultKilnHome()))
                    .registrySecurity(new RegistrySecurity(pull.insecurePull, plain, skipTlsVerifyPull, unchecked, certificates),
                            pushSecurity);
            try (RegistryLayerCache layerCache = cache ? layerCache(pushSecurity, log) : null) {
                if (layerCache != null) {
                    executor.cache(layerCache, new Executor.CachePolicy(cacheRunLayers, cacheCopyLayers));
                }
                if (dryRun) {
                    executor.dryRun(out);
                }
                Executor.Result result = executor.singleSnapshot(singleSnapshot).build();
                if (imageNameTagWithDigestFile != null && result.digest() != null) {
                    StringBuilder names = new StringBuilder();
                    for (String destination : destinations) {
                        ImageReference ref = ImageReference.parse(destination);
                        names.append(ref.context()).append(':').append(ref.tag() != null ? ref.tag() : "latest")
                                .append('@').append(result.digest()).append('\n');
                    }
                    Files.writeString(imageNameTagWithDigestFile, names.toString());
                }
            }
            return 0;
        } catch (BuildException | ContextException e) {
            log.log(BuildLog.Level.FATAL, e.getMessage());
            return 1;
        } catch (IllegalArgumentException e) {
            log.log(BuildLog.Level.FATAL, e.getMessage());
            return 1;
        } catch (java.io.IOException e) {
            log.log(BuildLog.Level.FATAL, "cannot write " + imageNameTagWithDigestFile + ": " + e.getMessage());
            return 1;
        } catch (RuntimeException e) {
            log.log(BuildLog.Level.FATAL, e.toString());
            return 1;
        }
    }

    /** The cache repository is written to, so it is reached as the destinations are (the push flags). */
    private RegistryLayerCache layerCache(RegistrySecurity security, BuildLog log) throws BuildException {
        ImageReference repo;
        if (cacheRepo != null && !cacheRepo.isBlank()) {
            repo = ImageReference.parse(cacheRepo);
        } else if (!destinations.isEmpty()) {
            ImageReference first = ImageReference.parse(destinations.get(0));
            repo = first.withRepository(new RepositoryName(first.repository().value() + "/cache"));
        } else {
            throw new BuildException("--cache needs --cache-repo (or a --destination to put the cache next to)");
        }
        Duration ttl;
        try {
            ttl = GoDuration.parse(cacheTtl);
        } catch (RuntimeException e) {
            throw new BuildException("invalid --cache-ttl " + cacheTtl + " (a Go duration such as 336h or 30m)");
        }
        Path blobs = (cacheDir != null ? cacheDir : Path.of(System.getProperty("java.io.tmpdir"), "kiln-cache")).resolve("blobs");
        return new RegistryLayerCache(repo, new Registries(security, DockerCredentials.fromEnvironment()), new BlobCache(blobs),
                ttl, Clock.systemUTC(), log::warn);
    }

    /** {@code --registry-certificate HOST=CA.pem}, each file checked now rather than at the first pull. */
    /** Whether {@code url} is {@code http://host:port/…} for a host:port given to {@code --insecure-registry}. */
    private boolean plainHttpRegistryHost(String url) {
        if (!url.startsWith("http://")) {
            return false;
        }
        try {
            java.net.URI uri = java.net.URI.create(url);
            return pull.insecureRegistries.contains(uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort()));
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private Map<String, Path> certificates() throws BuildException {
        Map<String, Path> out = new LinkedHashMap<>();
        for (String pair : registryCertificates) {
            int eq = pair.indexOf('=');
            if (eq <= 0 || eq == pair.length() - 1) {
                throw new BuildException("--registry-certificate " + pair + ": expected HOST=CA.pem");
            }
            Path file = Path.of(pair.substring(eq + 1)).toAbsolutePath();
            if (!Files.isReadable(file)) {
                throw new BuildException("--registry-certificate " + pair + ": " + file + " is not readable");
            }
            out.put(pair.substring(0, eq), file);
        }
        return out;
    }
}
