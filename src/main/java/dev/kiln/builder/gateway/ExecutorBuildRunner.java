package dev.kiln.builder.gateway;

import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.cache.CachePolicy;
import dev.kiln.builder.engine.BuildRequest;
import dev.kiln.builder.engine.Builder;
import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildLog;
import dev.kiln.builder.output.BuildResult;
import dev.kiln.builder.context.ContextException;
import dev.kiln.builder.context.ContextSource;
import dev.kiln.builder.context.ContextSources;
import dev.kiln.builder.context.Downloads;
import dev.kiln.builder.context.GitOptions;
import dev.kiln.builder.sandbox.SandboxPolicy;
import dev.kiln.oci.InvalidNameException;
import dev.kiln.oci.RepositoryName;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.BlobCache;
import dev.kiln.registry.client.DockerCredentials;
import dev.kiln.registry.client.ImagePuller;
import dev.kiln.registry.client.ImagePusher;
import dev.kiln.registry.client.ImageSource;
import dev.kiln.registry.client.MirrorRoutes;
import dev.kiln.registry.client.Registries;
import dev.kiln.registry.client.RegistrySecurity;
import dev.kiln.registry.client.Retry;
import dev.kiln.registry.mirror.MirrorService;
import dev.kiln.registry.mirror.UpstreamRouter;
import dev.kiln.registry.server.RegistryService;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Runs gateway builds in-process with the builder {@code kiln build} uses, wired to the gateway's
 * own store rather than to its HTTP port: base images named on the gateway, and (with
 * {@code ownMirror}) those of the registries it mirrors, are read through its registry and mirror
 * ({@link StoreImageSource}); destinations on the gateway are written into the store
 * ({@link StoreImageSink}); with {@code cache}, the layer cache lives in the store too
 * ({@link StoreLayerCache}). The submitter authenticated to submit, which is what a push needs.
 * Other registries are reached over the network with the gateway process's docker config.
 */
public final class ExecutorBuildRunner implements BuildRunner {

    /**
     * @param insecureRegistries  further registries spoken to over plain HTTP
     * @param cacheDir            where base image blobs pulled from registries the gateway does not mirror are kept
     * @param sandbox             RUN isolation: auto, namespaces, proot or in-place
     * @param cacheRepository     the layer cache's repository in the store; null for {@code cache/<first destination's path>}
     * @param allowNetwork        whether RUN may use the network (through the egress proxy); otherwise it gets loopback only
     * @param sandboxPolicy       what every RUN gets: seccomp, cgroup limits, egress rules
     * @param layerStoreDir       where base image layers stay unpacked between builds; null for {@code layers/} in {@code cacheDir}
     * @param layerStoreMaxBytes  the kept layers' budget; 0 keeps none
     * @param maxParallelStages   stages of one build that run at once when they need nothing from each other
     */
    public record Settings(boolean ownMirror, List<String> insecureRegistries, Path cacheDir, String sandbox,
                           String cacheRepository, boolean allowNetwork, SandboxPolicy sandboxPolicy,
                           Path layerStoreDir, long layerStoreMaxBytes, int maxParallelStages) {
        public Settings {
            insecureRegistries = List.copyOf(insecureRegistries);
            java.util.Objects.requireNonNull(sandboxPolicy, "sandboxPolicy");
            if (layerStoreMaxBytes < 0) {
                throw new IllegalArgumentException("kiln.builds.layer-store-max-bytes must be >= 0, not " + layerStoreMaxBytes);
            }
        }

        /** Without network for RUN, the layer store's defaults. */
        public Settings(boolean ownMirror, List<String> insecureRegistries, Path cacheDir, String sandbox,
                        String cacheRepository) {
            this(ownMirror, insecureRegistries, cacheDir, sandbox, cacheRepository, false, SandboxPolicy.DEFAULT,
                    null, dev.kiln.builder.layers.BuildLayers.DEFAULT_MAX_BYTES, Runtime.getRuntime().availableProcessors());
        }

        /** The same, with the layer store at {@code dir} within {@code maxBytes}. */
        public Settings withLayerStore(Path dir, long maxBytes) {
            return new Settings(ownMirror, insecureRegistries, cacheDir, sandbox, cacheRepository, allowNetwork,
                    sandboxPolicy, dir, maxBytes, maxParallelStages);
        }
    }

    /** The cache repository of builds that name no destination. */
    static final String DEFAULT_CACHE_REPOSITORY = "cache/builds";

    private final Settings settings;
    private final RegistryService registry;
    private final MirrorService mirror;
    private final UpstreamRouter upstreams;
    private final CredentialScope scope;

    public ExecutorBuildRunner(Settings settings, RegistryService registry, MirrorService mirror, UpstreamRouter upstreams) {
        this(settings, registry, mirror, upstreams, CredentialScope.GATEWAY_ONLY);
    }

    public ExecutorBuildRunner(Settings settings, RegistryService registry, MirrorService mirror, UpstreamRouter upstreams,
                               CredentialScope scope) {
        this.scope = scope;
        this.settings = settings;
        this.registry = registry;
        this.mirror = mirror;
        this.upstreams = upstreams;
    }

    @Override
    public Outcome run(Job job) throws BuildException {
        BuildSpec spec = job.spec();
        Path context;
        Path dockerfile;
        try {
            context = source(job).materialize(Files.createDirectories(job.workDir().resolve("context")));
            dockerfile = insideContext(context, spec.dockerfileInContext());
            insideContext(context, ".dockerignore");
        } catch (IOException e) {
            throw new BuildException("build context " + (spec.context() == null ? "upload" : spec.context()) + ": "
                    + e.getMessage(), e);
        }
        if (!Files.isRegularFile(dockerfile)) {
            throw new BuildException("the build context has no " + spec.dockerfileInContext());
        }
        List<String> gatewayHosts = job.caller() == null ? List.of() : job.caller().gatewayHosts();
        String user = job.caller() == null || job.caller().credentials() == null ? null : job.caller().credentials().username();
        try {
            scope.checkDestinations(user, spec.destinations(), gatewayHosts);
        } catch (BuildRequestException e) {
            throw new BuildException(e.getMessage());
        }
        DockerCredentials credentials = DockerCredentials.fromEnvironment();
        Registries registries = new Registries(RegistrySecurity.plainHttp(Set.copyOf(settings.insecureRegistries())),
                credentials);
        StoreImageSink sink = new StoreImageSink(registry, gatewayHosts, ImagePusher.sink(registries, Retry.NONE));
        BlobCache blobCache = new BlobCache(settings.cacheDir().resolve("blobs"));
        ImagePuller withCredentials = new ImagePuller(registries, MirrorRoutes.none(), blobCache, Retry.NONE);
        ImagePuller anonymous = new ImagePuller(new Registries(RegistrySecurity.plainHttp(Set.copyOf(settings.insecureRegistries())),
                host -> Optional.empty()), MirrorRoutes.none(), blobCache, Retry.NONE);
        // the gateway's credentials only for repositories the operator allows this user: a private
        // image anywhere else is pulled as nobody, and the registry refuses it
        ImageSource elsewhere = (reference, platform) -> scope.mayPull(user, reference)
                ? withCredentials.pull(reference, platform) : anonymous.pull(reference, platform);
        BuildRequest.Builder request = BuildRequest.builder()
                .dockerfile(dockerfile)
                .context(context)
                .destinations(spec.destinations())
                .buildArgs(spec.buildArgs())
                .target(spec.target())
                .labels(spec.labels())
                .platform(spec.platform())
                .insecureRegistries(settings.insecureRegistries())
                .cacheDir(settings.cacheDir())
                .layerStore(settings.layerStoreDir(), settings.layerStoreMaxBytes())
                .sandbox(settings.sandbox())
                .maxParallelStages(settings.maxParallelStages())
                .cancellation(job.cancellation())
                .allowNetwork(settings.allowNetwork())
                .sandboxPolicy(settings.sandboxPolicy())
                .credentials(credentials)
                .imageSource(new StoreImageSource(registry, mirror, upstreams, gatewayHosts, settings.ownMirror(), elsewhere))
                .imageSink(sink)
                .workDir(job.workDir());
        String cacheRepository = null;
        if (spec.cache()) {
            RepositoryName repository = cacheRepository(spec);
            cacheRepository = repository.value();
            String host = gatewayHosts.isEmpty() ? StoreLayerCache.UNNAMED_GATEWAY : gatewayHosts.get(0);
            request.cache(new StoreLayerCache(registry, new ImageReference(host, repository, null, null), sink, null,
                    Clock.systemUTC(), w -> job.log().println("warning: " + w)), CachePolicy.ALL);
        }
        BuildLog log = BuildLog.text(job.log());
        Consumer<BuildEvent> printed = log.listener(job.log());
        BuildResult result = new Builder(event -> {
            printed.accept(event);
            if (event instanceof BuildEvent.StepFinished step) {
                job.steps().accept(step);
            }
        }).build(request.build());
        List<String> pushed = new ArrayList<>();
        for (String destination : spec.destinations()) {
            pushed.add(ImageReference.parse(destination).context() + "@" + result.digest());
        }
        return new Outcome(result.digest().toString(), pushed,
                BuildReport.of(result.report(), sink::isOnGateway, cacheRepository));
    }

    /** {@code kiln.builds.cache-repo}, else {@code cache/} and the first destination's repository path. */
    private RepositoryName cacheRepository(BuildSpec spec) throws BuildException {
        String name = settings.cacheRepository() != null ? settings.cacheRepository()
                : spec.destinations().isEmpty() ? DEFAULT_CACHE_REPOSITORY
                : "cache/" + ImageReference.parse(spec.destinations().get(0)).repository().value();
        try {
            return new RepositoryName(name);
        } catch (InvalidNameException e) {
            throw new BuildException("layer cache repository " + name + ": " + e.getMessage(), e);
        }
    }

    /**
     * The uploaded archive, or the URL the client named. Only remote spellings reach here
     * ({@link BuildSpec#validated}): a client must never make the gateway read its own files.
     */
    private static ContextSource source(Job job) throws ContextException {
        Consumer<String> warnings = w -> job.log().println("warning: " + w);
        if (job.archive() != null) {
            return ContextSources.local(job.archive(), warnings);
        }
        String url = job.spec().context();
        Downloads downloads = Downloads.of(url.startsWith("http://"), false);
        return ContextSources.parse(url, new ContextSources.Settings(downloads, GitOptions.DEFAULT, System.getenv(),
                InputStream.nullInputStream(), warnings, debug -> { }));
    }

    /**
     * {@code relative} resolved in the context, refused when a symlink leads outside it: the
     * gateway must never read its own files on a client's behalf. Absent files pass.
     */
    private static Path insideContext(Path context, String relative) throws IOException, BuildException {
        Path path = context.resolve(relative);
        if (!Files.exists(path)) {
            return path;
        }
        if (!path.toRealPath().startsWith(context.toRealPath())) {
            throw new BuildException(relative + " leads outside the build context");
        }
        return path;
    }
}
