package dev.kiln.builder.engine;

import dev.kiln.builder.cache.CachePolicy;
import dev.kiln.builder.cache.LayerCache;
import dev.kiln.builder.exec.BuildInputs;
import dev.kiln.builder.exec.InPlaceOptions;
import dev.kiln.builder.output.Outputs;
import dev.kiln.builder.sandbox.Cancellation;
import dev.kiln.builder.sandbox.Sandboxes;
import dev.kiln.builder.snapshot.Snapshotters;
import dev.kiln.oci.layer.Compression;
import dev.kiln.registry.client.DockerCredentials;
import dev.kiln.registry.client.ImageSink;
import dev.kiln.registry.client.ImageSource;
import dev.kiln.registry.client.Registries;
import dev.kiln.registry.client.RegistrySecurity;
import dev.kiln.registry.client.TransferProgress;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Everything one build is asked to do, checked once when it is made: what to build (Dockerfile,
 * context, args, target, platform), where the image goes, how layers are written, how registries
 * are reached, how RUN is isolated, and the layer cache. Made with {@link #builder()}; every
 * setting not given has the value {@code kiln build} uses without the flag.
 */
public final class BuildRequest {
    /** How base images are found: kaniko's --registry-mirror, --registry-map and retry flags. */
    public record Pulls(List<String> registryMirrors, List<String> registryMaps, boolean skipDefaultRegistryFallback,
                        int downloadRetry) {
        public Pulls {
            registryMirrors = List.copyOf(registryMirrors);
            registryMaps = List.copyOf(registryMaps);
        }
    }

    private final Builder b;
    private final Compression compression;
    private final Sandboxes.Mode sandbox;
    private final Snapshotters.Mode snapshotMode;

    private BuildRequest(Builder b) {
        this.b = b.copy();
        String name = b.compression == null ? "gzip" : b.compression.toLowerCase(Locale.ROOT);
        this.compression = switch (name) {
            case "gzip" -> b.compressionLevel > 0 ? Compression.gzip(b.compressionLevel) : Compression.gzip();
            case "zstd" -> b.compressionLevel > 0 ? Compression.zstd(b.compressionLevel) : Compression.zstd();
            default -> throw new IllegalArgumentException("unknown --compression " + name + " (gzip, zstd)");
        };
        this.sandbox = Sandboxes.Mode.of(b.sandbox);
        this.snapshotMode = Snapshotters.Mode.of(b.snapshotMode);
        if (b.singleSnapshot && b.layerCache != null) {
            throw new IllegalArgumentException("a single-snapshot build keeps one layer per stage, which a layer cache cannot serve");
        }
        if (b.dryRun && b.layerCache == null) {
            throw new IllegalArgumentException("a dry run shows the layer cache's plan, so it needs a layer cache");
        }
        if (b.maxParallelStages < 1) {
            throw new IllegalArgumentException("--max-parallel-stages must be 1 or more, not " + b.maxParallelStages);
        }
        if (b.pushRetry < 0 || b.downloadRetry < 0) {
            throw new IllegalArgumentException("retries cannot be negative");
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public Path dockerfile() { return b.dockerfile; }
    public Path context() { return b.context; }
    public BuildInputs inputs() { return b.inputs; }
    public Map<String, String> buildArgs() { return b.buildArgs; }
    public String target() { return b.target; }
    public String platform() { return b.platform; }
    public Map<String, String> labels() { return b.labels; }
    public Outputs outputs() {
        return new Outputs(b.destinations, b.noPush, b.tarPath, b.ociLayoutPath, b.digestFile, b.imageNameWithDigestFile);
    }
    public List<String> destinations() { return b.destinations; }
    public boolean reproducible() { return b.reproducible; }
    public Compression compression() { return compression; }
    public Pulls pulls() { return new Pulls(b.registryMirrors, b.registryMaps, b.skipDefaultRegistryFallback, b.downloadRetry); }
    public int pushRetry() { return b.pushRetry; }
    public RegistrySecurity pullSecurity() { return b.pullSecurity != null ? b.pullSecurity : plainHttp(); }
    public RegistrySecurity pushSecurity() { return b.pushSecurity != null ? b.pushSecurity : plainHttp(); }
    public Registries.CredentialSource credentials() { return b.credentials; }
    public ImageSource imageSource() { return b.imageSource; }
    public ImageSink imageSink() { return b.imageSink; }
    public Path cacheDir() { return b.cacheDir; }
    /** Byte progress of the pulls and pushes, for the command line to show. */
    public TransferProgress progress() { return b.progress; }
    /** Where base layers are kept unpacked between builds; null for {@code layers/} in the cache dir. */
    public Path layerStoreDir() { return b.layerStoreDir; }
    /** The kept layers' budget; 0 keeps none (every layer is unpacked into each build). */
    public long layerStoreMaxBytes() { return b.layerStoreMaxBytes; }
    public Path workDir() { return b.workDir; }
    public Sandboxes.Mode sandbox() { return sandbox; }
    public Snapshotters.Mode snapshotMode() { return snapshotMode; }
    public boolean singleSnapshot() { return b.singleSnapshot; }
    /** How many stages that do not need each other may run at once; 1 builds them one after the other. */
    public int maxParallelStages() { return b.maxParallelStages; }
    public InPlaceOptions inPlace() { return b.inPlace; }
    public boolean allowNetwork() { return b.allowNetwork; }
    public dev.kiln.builder.sandbox.SandboxPolicy sandboxPolicy() { return b.sandboxPolicy; }
    public Cancellation cancellation() { return b.cancellation; }
    public LayerCache layerCache() { return b.layerCache; }
    public CachePolicy cachePolicy() { return b.cachePolicy; }
    public boolean dryRun() { return b.dryRun; }
    public boolean ignoreImmutableTagErrors() { return b.ignoreImmutableTagErrors; }

    public boolean inPlaceMode() {
        return sandbox == Sandboxes.Mode.IN_PLACE;
    }

    private RegistrySecurity plainHttp() {
        return RegistrySecurity.plainHttp(Set.copyOf(b.insecureRegistries));
    }

    /** Collects settings; {@link #build()} checks them together. */
    public static final class Builder {
        private Path dockerfile = Path.of("Dockerfile");
        private Path context = Path.of(".");
        private BuildInputs inputs = BuildInputs.LOCAL;
        private Map<String, String> buildArgs = Map.of();
        private String target;
        private String platform;
        private Map<String, String> labels = Map.of();
        private List<String> destinations = List.of();
        private boolean noPush;
        private Path tarPath;
        private Path ociLayoutPath;
        private Path digestFile;
        private Path imageNameWithDigestFile;
        private boolean reproducible;
        private String compression = "gzip";
        private int compressionLevel = -1;
        private List<String> registryMirrors = List.of();
        private List<String> registryMaps = List.of();
        private boolean skipDefaultRegistryFallback;
        private List<String> insecureRegistries = List.of();
        private int pushRetry;
        private int downloadRetry;
        private RegistrySecurity pullSecurity;
        private RegistrySecurity pushSecurity;
        private Registries.CredentialSource credentials = DockerCredentials.fromEnvironment();
        private ImageSource imageSource;
        private ImageSink imageSink;
        private Path cacheDir;
        private TransferProgress progress = TransferProgress.NONE;
        private Path layerStoreDir;
        private long layerStoreMaxBytes = dev.kiln.builder.layers.BuildLayers.DEFAULT_MAX_BYTES;
        private Path workDir;
        private String sandbox = "auto";
        private String snapshotMode = "auto";
        private boolean singleSnapshot;
        private int maxParallelStages = Runtime.getRuntime().availableProcessors();
        private InPlaceOptions inPlace = InPlaceOptions.DEFAULT;
        private boolean allowNetwork;
        private dev.kiln.builder.sandbox.SandboxPolicy sandboxPolicy = dev.kiln.builder.sandbox.SandboxPolicy.DEFAULT;
        private Cancellation cancellation = new Cancellation();
        private LayerCache layerCache;
        private CachePolicy cachePolicy = CachePolicy.ALL;
        private boolean dryRun;
        private boolean ignoreImmutableTagErrors;

        private Builder() {
        }

        /** The Dockerfile: as given when it exists, else relative to the context. */
        public Builder dockerfile(Path v) { dockerfile = Objects.requireNonNull(v); return this; }
        /** A local context directory, used when {@link BuildInputs#context()} is null. */
        public Builder context(Path v) { context = Objects.requireNonNull(v); return this; }
        public Builder inputs(BuildInputs v) { inputs = Objects.requireNonNull(v); return this; }
        public Builder buildArgs(Map<String, String> v) { buildArgs = Map.copyOf(v); return this; }
        public Builder target(String v) { target = v; return this; }
        /** {@code os/arch[/variant]}; null for this machine's. */
        public Builder platform(String v) { platform = v; return this; }
        public Builder labels(Map<String, String> v) { labels = Map.copyOf(v); return this; }
        public Builder destinations(List<String> v) { destinations = List.copyOf(v); return this; }
        public Builder noPush(boolean v) { noPush = v; return this; }
        public Builder tarPath(Path v) { tarPath = v; return this; }
        public Builder ociLayoutPath(Path v) { ociLayoutPath = v; return this; }
        public Builder digestFile(Path v) { digestFile = v; return this; }
        public Builder imageNameWithDigestFile(Path v) { imageNameWithDigestFile = v; return this; }
        public Builder reproducible(boolean v) { reproducible = v; return this; }
        /** {@code gzip} or {@code zstd}, and a level (0 or less: the algorithm's default). */
        public Builder compression(String name, int level) { compression = name; compressionLevel = level; return this; }
        public Builder registryMirrors(List<String> v) { registryMirrors = List.copyOf(v); return this; }
        public Builder registryMaps(List<String> v) { registryMaps = List.copyOf(v); return this; }
        public Builder skipDefaultRegistryFallback(boolean v) { skipDefaultRegistryFallback = v; return this; }
        /** Registries spoken to over plain HTTP unless {@link #registrySecurity} says otherwise. */
        public Builder insecureRegistries(List<String> v) { insecureRegistries = List.copyOf(v); return this; }
        public Builder retries(int push, int download) { pushRetry = push; downloadRetry = download; return this; }
        /** How base images are pulled and destinations pushed: plain HTTP, TLS checks, CA files per host. */
        public Builder registrySecurity(RegistrySecurity pull, RegistrySecurity push) {
            pullSecurity = pull;
            pushSecurity = push;
            return this;
        }
        public Builder credentials(Registries.CredentialSource v) { credentials = Objects.requireNonNull(v); return this; }
        /** Where base images come from instead of the registries (default: pulled over HTTP into the cache dir). */
        public Builder imageSource(ImageSource v) { imageSource = v; return this; }
        /** Where the image goes instead of being pushed over HTTP. */
        public Builder imageSink(ImageSink v) { imageSink = v; return this; }
        /** Base image blobs and RUN cache mounts; null for {@code java.io.tmpdir/kiln-cache}. */
        public Builder cacheDir(Path v) { cacheDir = v; return this; }
        public Builder progress(TransferProgress v) { progress = Objects.requireNonNull(v); return this; }
        /** {@code --layer-store-dir} (null: {@code layers/} in the cache dir) and {@code --layer-store-max-bytes} (0: none). */
        public Builder layerStore(Path dir, long maxBytes) {
            if (maxBytes < 0) {
                throw new IllegalArgumentException("the layer store's budget must be >= 0, not " + maxBytes);
            }
            layerStoreDir = dir;
            layerStoreMaxBytes = maxBytes;
            return this;
        }
        /** Where the per-build temp dir is made; next to a store, layer files can be hard-linked into it. */
        public Builder workDir(Path v) { workDir = v; return this; }
        public Builder sandbox(String v) { sandbox = v; return this; }
        public Builder snapshotMode(String v) { snapshotMode = v; return this; }
        /** kaniko's {@code --single-snapshot}: each stage's changes become one layer, taken after its last step. */
        public Builder singleSnapshot(boolean v) { singleSnapshot = v; return this; }
        /** Stages that need nothing from each other run concurrently, this many at most (default: the processors). */
        public Builder maxParallelStages(int v) { maxParallelStages = v; return this; }
        public Builder inPlace(InPlaceOptions v) { inPlace = Objects.requireNonNull(v); return this; }
        /** Whether RUN may use the host's network; otherwise every RUN gets loopback only. */
        public Builder allowNetwork(boolean v) { allowNetwork = v; return this; }
        /** What every RUN of this build gets: seccomp, cgroup limits, what an allowed network is, egress rules. */
        public Builder sandboxPolicy(dev.kiln.builder.sandbox.SandboxPolicy v) { sandboxPolicy = Objects.requireNonNull(v); return this; }
        /** Cancelling stops the build at the next step and kills a running RUN; nothing is pushed after it. */
        public Builder cancellation(Cancellation v) { cancellation = Objects.requireNonNull(v); return this; }
        /** Steps whose key is found are not run; the others' layers are stored. */
        public Builder cache(LayerCache cache, CachePolicy policy) {
            layerCache = cache;
            cachePolicy = Objects.requireNonNull(policy);
            return this;
        }
        /** Plan only: each filesystem step with its cache key and whether the cache holds it. */
        public Builder dryRun(boolean v) { dryRun = v; return this; }
        /** kaniko's {@code --push-ignore-immutable-tag-errors}. */
        public Builder ignoreImmutableTagErrors(boolean v) { ignoreImmutableTagErrors = v; return this; }

        /** @throws IllegalArgumentException naming the first setting that is wrong or does not fit the others */
        public BuildRequest build() {
            return new BuildRequest(this);
        }

        private Builder copy() {
            Builder c = new Builder();
            c.dockerfile = dockerfile; c.context = context; c.inputs = inputs; c.buildArgs = buildArgs;
            c.target = target; c.platform = platform; c.labels = labels; c.destinations = destinations;
            c.noPush = noPush; c.tarPath = tarPath; c.ociLayoutPath = ociLayoutPath; c.digestFile = digestFile;
            c.imageNameWithDigestFile = imageNameWithDigestFile; c.reproducible = reproducible;
            c.compression = compression; c.compressionLevel = compressionLevel; c.registryMirrors = registryMirrors;
            c.registryMaps = registryMaps; c.skipDefaultRegistryFallback = skipDefaultRegistryFallback;
            c.insecureRegistries = insecureRegistries; c.pushRetry = pushRetry; c.downloadRetry = downloadRetry;
            c.pullSecurity = pullSecurity; c.pushSecurity = pushSecurity; c.credentials = credentials;
            c.imageSource = imageSource; c.imageSink = imageSink; c.cacheDir = cacheDir; c.workDir = workDir;
            c.progress = progress; c.layerStoreDir = layerStoreDir; c.layerStoreMaxBytes = layerStoreMaxBytes;
            c.sandbox = sandbox; c.snapshotMode = snapshotMode; c.singleSnapshot = singleSnapshot;
            c.maxParallelStages = maxParallelStages; c.inPlace = inPlace;
            c.allowNetwork = allowNetwork; c.sandboxPolicy = sandboxPolicy; c.cancellation = cancellation; c.layerCache = layerCache;
            c.cachePolicy = cachePolicy; c.dryRun = dryRun; c.ignoreImmutableTagErrors = ignoreImmutableTagErrors;
            return c;
        }
    }
}
