package dev.kiln.app.cli;

import dev.kiln.builder.cache.LayerCache;
import dev.kiln.builder.context.ContextException;
import dev.kiln.builder.context.ContextSource;
import dev.kiln.builder.context.ContextSources;
import dev.kiln.builder.context.Downloads;
import dev.kiln.builder.context.GitOptions;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.BuildInputs;
import dev.kiln.builder.exec.BuildLog;
import dev.kiln.builder.engine.BuildRequest;
import dev.kiln.builder.engine.Builder;
import dev.kiln.builder.output.BuildResult;
import dev.kiln.builder.exec.InPlaceOptions;
import dev.kiln.builder.exec.SecretFlags;
import dev.kiln.registry.client.DockerCredentials;
import dev.kiln.registry.client.PushPermissionCheck;
import dev.kiln.registry.client.Registries;
import dev.kiln.registry.client.RegistrySecurity;
import java.io.InputStream;
import dev.kiln.builder.snapshot.Snapshotters;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code kiln build}: kaniko's flags, plain Java (never boots Quarkus). */
@Command(name = "build", mixinStandardHelpOptions = true, versionProvider = KilnVersion.class,
        description = "Build a Dockerfile without a daemon and push the image (kaniko-compatible flags).")
public class BuildCommand implements Callable<Integer> {
    @Mixin
    PullFlags pull = new PullFlags();

    @Mixin
    LogFlags logging = new LogFlags();

    @Option(names = {"-f", "--dockerfile"}, defaultValue = "Dockerfile", description = "Path to the Dockerfile (default ${DEFAULT-VALUE}, relative to the context if not found), or an http(s) URL")
    String dockerfile;

    @Option(names = {"-c", "--context"}, description = "Build context: a directory, dir://DIR, tar://FILE.tar[.gz], tar://stdin, "
            + "https://HOST/CONTEXT.tar.gz, git://HOST/REPO[#REF[#COMMIT]] (over https), git+git://|git+https://|git+ssh://|git+file://…, "
            + "s3://BUCKET/KEY (default: . ; /workspace/ in the executor container)")
    String context;

    @Option(names = {"-b", "--bucket"}, description = "kaniko's older way to name a tar.gz context in a bucket: s3://BUCKET/KEY (same as --context)")
    String bucket;

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

    @Option(names = "--no-push", arity = "0..1", fallbackValue = "true", description = "Build only; do not push (also KANIKO_NO_PUSH=true)")
    boolean noPush;

    @Option(names = "--reproducible", arity = "0..1", fallbackValue = "true", description = "Strip timestamps from layers and the config")
    boolean reproducible;

    @Option(names = "--compression", defaultValue = "gzip", description = "Layer compression: gzip or zstd (default ${DEFAULT-VALUE})")
    String compression;

    @Option(names = "--compression-level", defaultValue = "-1", description = "Compression level (default: the algorithm's)")
    int compressionLevel;

    @Option(names = "--insecure", arity = "0..1", fallbackValue = "true", description = "Push to the destinations over plain HTTP; also allows http:// contexts and Dockerfiles")
    boolean insecure;

    @Option(names = "--skip-tls-verify", arity = "0..1", fallbackValue = "true", description = "Push without checking the destinations' TLS certificates; also for https:// contexts and Dockerfiles")
    boolean skipTlsVerify;

    @Option(names = "--push-retry", defaultValue = "0", description = "Retries for a failed push (default ${DEFAULT-VALUE})")
    int pushRetry;

    @Option(names = "--cache-dir", description = "Where pulled base image blobs are kept between builds")
    Path cacheDir;

    @Option(names = "--layer-store-dir", description = "Where base image layers are kept unpacked between builds (default: layers/ in --cache-dir)")
    Path layerStoreDir;

    @Option(names = "--layer-store-max-bytes", defaultValue = "10G",
            description = "The most the kept unpacked layers may take, suffixes K, M, G, T (default ${DEFAULT-VALUE}); 0 keeps none")
    String layerStoreMaxBytes;

    @Mixin
    SandboxFlags isolation = new SandboxFlags();

    @Mixin
    InPlaceFlags inPlace = new InPlaceFlags();

    @Mixin
    LayerCacheFlags caching = new LayerCacheFlags();

    @Mixin
    ImageFileFlags files = new ImageFileFlags();

    @Mixin
    KanikoNoOpFlags kanikoOnly = new KanikoNoOpFlags();

    @Option(names = {"--snapshot-mode", "--snapshotMode"}, defaultValue = "auto", description = "How step changes are found: auto (a RUN's "
            + "overlayfs upper dir where the kernel allows, else a walk), overlay (fail instead of walking for RUN), "
            + "walk; kaniko's full, redo and time walk (default ${DEFAULT-VALUE})")
    String snapshotMode;

    @Option(names = "--single-snapshot", arity = "0..1", fallbackValue = "true", description = "One layer per stage, snapshotted after its last step")
    boolean singleSnapshot;

    @Option(names = "--max-parallel-stages", description = "Stages that need nothing from each other run at once, this many at most; 1 builds them in file order (default: the processors)")
    Integer maxParallelStages;

    @Option(names = "--kaniko-dir", description = "kaniko's working directory (default /kaniko, or KANIKO_DIR): in the executor container its .docker holds "
            + "the registry credentials, and it is never wiped or snapshotted; given explicitly, builds work in it too")
    String kanikoDir;

    @Option(names = "--push-ignore-immutable-tag-errors", arity = "0..1", fallbackValue = "true",
            description = "Treat a registry's refusal to move an immutable tag (Artifact Registry's and ECR's messages, as kaniko) as success")
    boolean pushIgnoreImmutableTagErrors;

    @Option(names = "--skip-push-permission-check", arity = "0..1", fallbackValue = "true",
            description = "Do not check before the build that every destination answers and takes an upload (kaniko's push permission check)")
    Boolean skipPushPermissionCheck;

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
            log = logging.open(err);
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
        try {
            ExecutorMode mode = ExecutorMode.of(env, kanikoDir);
            for (String warning : kanikoOnly.warnings(pull.registryClientCerts)) {
                log.warn(warning);
            }
            pull.addFromEnvironment(env);
            String noPushEnv = env.get("KANIKO_NO_PUSH");
            if (noPushEnv != null && !noPushEnv.isBlank()) {
                noPush = Boolean.parseBoolean(noPushEnv.trim());
            }
            String context = contextOrDefault(mode);
            String sandbox = isolation.sandbox != null ? isolation.sandbox : mode.defaultSandbox();
            Path cacheDir = this.cacheDir != null ? this.cacheDir : mode.defaultCacheDir();
            DockerCredentials credentials = DockerCredentials.fromEnvironment(
                    mode.credentialEnvironment(env, InPlaceOptions.defaultKilnHome()));
            try {
                Snapshotters.Mode.of(snapshotMode);
            } catch (IllegalArgumentException e) {
                log.log(BuildLog.Level.FATAL, "--snapshot-mode: " + e.getMessage());
                return 1;
            }
            long layerStoreBytes;
            try {
                layerStoreBytes = dev.kiln.app.config.ByteSizes.parse(layerStoreMaxBytes);
            } catch (RuntimeException e) {
                log.log(BuildLog.Level.FATAL, "--layer-store-max-bytes: " + e.getMessage());
                return 1;
            }
            if (destinations.isEmpty() && !noPush && !files.writesArchive() && !dryRun) {
                log.log(BuildLog.Level.FATAL, "give at least one --destination, or --no-push");
                return 1;
            }
            Map<String, String> args = KeyValueFlags.buildArgs(buildArgs, env);
            Map<String, String> labelMap = KeyValueFlags.labels(labels);
            if (singleSnapshot && caching.cache) {
                log.log(BuildLog.Level.FATAL, "--single-snapshot and --cache do not mix: the cache keeps one layer per step");
                return 1;
            }
            if (dryRun && !caching.cache) {
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
            Map<String, Path> certificates = pull.certificates();
            Set<String> plain = Set.copyOf(pull.insecureRegistries);
            Set<String> unchecked = Set.copyOf(pull.skipTlsVerifyRegistries);
            RegistrySecurity pushSecurity = new RegistrySecurity(insecure, plain, skipTlsVerify, unchecked, certificates);
            if (!noPush && !dryRun && !Boolean.TRUE.equals(skipPushPermissionCheck)) {
                Optional<String> refusal = new PushPermissionCheck(new Registries(pushSecurity, credentials)).firstRefusal(destinations);
                if (refusal.isPresent()) {
                    log.log(BuildLog.Level.FATAL, refusal.get() + " (checked before the build; --skip-push-permission-check skips this)");
                    return 1;
                }
            }
            if (isolation.problem() != null) {
                log.log(BuildLog.Level.FATAL, isolation.problem());
                return 1;
            }
            log.redact(inputs.secrets());
            BuildRequest.Builder request = BuildRequest.builder()
                    .dockerfile(remoteDockerfile ? Path.of("Dockerfile") : Path.of(dockerfile))
                    .inputs(inputs)
                    .destinations(destinations)
                    .buildArgs(args)
                    .target(target)
                    .labels(labelMap)
                    .noPush(noPush)
                    .tarPath(files.tarPath)
                    .ociLayoutPath(files.ociLayoutPath)
                    .digestFile(files.digestFile)
                    .imageNameWithDigestFile(files.imageNameWithDigestFile)
                    .reproducible(reproducible)
                    .compression(compression, compressionLevel)
                    .platform(pull.platform)
                    .registryMirrors(pull.registryMirrors)
                    .registryMaps(pull.registryMaps)
                    .skipDefaultRegistryFallback(pull.skipDefaultRegistryFallback)
                    .insecureRegistries(pull.insecureRegistries)
                    .retries(pushRetry, pull.imageDownloadRetry)
                    .cacheDir(cacheDir)
                    .layerStore(layerStoreDir, layerStoreBytes)
                    .progress(logging.progress(log, err))
                    .sandbox(sandbox)
                    .snapshotMode(snapshotMode)
                    .singleSnapshot(singleSnapshot)
                    .maxParallelStages(maxParallelStages != null ? maxParallelStages : Runtime.getRuntime().availableProcessors())
                    .allowNetwork(isolation.allowNetwork())
                    .sandboxPolicy(isolation.policy())
                    .credentials(credentials)
                    .ignoreImmutableTagErrors(pushIgnoreImmutableTagErrors)
                    .inPlace(inPlace.options(mode))
                    .registrySecurity(new RegistrySecurity(pull.insecurePull, plain, pull.skipTlsVerifyPull, unchecked, certificates),
                            pushSecurity)
                    .dryRun(dryRun);
            if (mode.active() && mode.explicitKanikoDir()) {
                try {
                    request.workDir(Files.createDirectories(mode.kanikoDir()));
                } catch (java.io.IOException e) {
                    throw new BuildException("--kaniko-dir " + mode.kanikoDir() + " cannot be created: " + e.getMessage());
                }
            }
            try (LayerCache layerCache = caching.cache ? caching.open(pushSecurity, credentials, cacheDir, destinations, log) : null) {
                if (layerCache != null) {
                    request.cache(caching.forBuild(layerCache), caching.policy());
                }
                BuildResult result = new Builder(log.listener(out)).build(request.build());
                files.writeNameTagDigests(destinations, result.digest());
            }
            return 0;
        } catch (BuildException | ContextException e) {
            log.log(BuildLog.Level.FATAL, e.getMessage());
            return 1;
        } catch (IllegalArgumentException e) {
            log.log(BuildLog.Level.FATAL, e.getMessage());
            return 1;
        } catch (java.io.IOException e) {
            log.log(BuildLog.Level.FATAL, "cannot write " + files.imageNameTagWithDigestFile + ": " + e.getMessage());
            return 1;
        } catch (RuntimeException e) {
            log.log(BuildLog.Level.FATAL, e.toString());
            return 1;
        }
    }

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


    /** {@code --context}, else kaniko's {@code --bucket}, else the mode's default. */
    private String contextOrDefault(ExecutorMode mode) throws BuildException {
        if (context != null) {
            return context;
        }
        if (bucket != null && !bucket.isBlank()) {
            if (!bucket.contains("://")) {
                throw new BuildException("--bucket " + bucket + " without a scheme means a GCS bucket, which Kiln does not read;"
                        + " give --context=s3://BUCKET/KEY or an https:// URL of the tar.gz");
            }
            return bucket;
        }
        return mode.defaultContext();
    }

}
