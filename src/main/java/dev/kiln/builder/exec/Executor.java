package dev.kiln.builder.exec;

import dev.kiln.builder.context.ContextException;
import dev.kiln.builder.context.ContextSource;
import dev.kiln.builder.context.ContextSources;
import dev.kiln.builder.rootfs.Trees;
import dev.kiln.builder.sandbox.MountResolver;
import dev.kiln.registry.client.RegistrySecurity;
import dev.kiln.registry.client.TlsTrust;

import dev.kiln.builder.cache.CacheKey;
import dev.kiln.builder.cache.CachedLayer;
import dev.kiln.builder.cache.LayerCache;
import dev.kiln.builder.dockerfile.ArgScope;
import dev.kiln.builder.dockerfile.BuildPlatforms;
import dev.kiln.builder.dockerfile.Command;
import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.dockerfile.Dockerfile;
import dev.kiln.builder.dockerfile.DockerfileException;
import dev.kiln.builder.dockerfile.DockerfileParser;
import dev.kiln.builder.dockerfile.Instruction;
import dev.kiln.builder.dockerfile.KeyValue;
import dev.kiln.builder.dockerfile.Node;
import dev.kiln.builder.dockerfile.Platform;
import dev.kiln.builder.dockerfile.Stage;
import dev.kiln.builder.dockerfile.Stages;
import dev.kiln.builder.dockerfile.Step;
import dev.kiln.builder.rootfs.IgnoredPaths;
import dev.kiln.builder.rootfs.InPlaceRoot;
import dev.kiln.builder.rootfs.LayerExtractor;
import dev.kiln.builder.rootfs.RootfsPath;
import dev.kiln.builder.sandbox.Cancellation;
import dev.kiln.builder.sandbox.ExecResult;
import dev.kiln.builder.sandbox.InPlaceSandbox;
import dev.kiln.builder.sandbox.RunSpec;
import dev.kiln.builder.sandbox.RunUser;
import dev.kiln.builder.sandbox.Sandbox;
import dev.kiln.builder.sandbox.Sandboxes;
import dev.kiln.builder.snapshot.SnapshotLayer;
import dev.kiln.builder.snapshot.TreeScanner;
import dev.kiln.builder.snapshot.Snapshotter;
import dev.kiln.builder.snapshot.Snapshotters;
import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.ImageManifests;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.image.ImageConfig;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.oci.layer.Compression;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.MtimePolicy;
import dev.kiln.registry.client.BlobCache;
import dev.kiln.registry.client.KanikoWarmedDir;
import dev.kiln.registry.client.DockerCredentials;
import dev.kiln.registry.client.ImagePuller;
import dev.kiln.registry.client.ImagePusher;
import dev.kiln.registry.client.ImageSink;
import dev.kiln.registry.client.ImageSource;
import dev.kiln.registry.client.MirrorRoutes;
import dev.kiln.registry.client.PulledImage;
import dev.kiln.registry.client.Registries;
import dev.kiln.registry.client.Retry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Builds a Dockerfile: the stages the target needs, each FROM pulled and unpacked into a rootfs
 * under a per-build temp dir (in place: into {@code /} itself, see {@link InPlaceOptions}),
 * metadata instructions into the config, COPY/ADD/WORKDIR/RUN into the rootfs and snapshotted into
 * one layer each; then the OCI image is pushed and/or written out. Nothing is pushed unless every
 * step succeeded; the temp dir is always removed.
 */
public final class Executor {
    private static final String DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private final BuildOptions options;
    private final BuildLog buildLog;
    private final PrintStream log;
    private BuildInputs inputs = BuildInputs.LOCAL;
    private RegistrySecurity pullSecurity;
    private RegistrySecurity pushSecurity;
    private Sandbox sandbox;
    private Path buildDir;
    private String dockerfileName;
    private Path context;
    private Thread cleanup;
    private BlobCache blobCache;
    private final Map<String, Path> imageRoots = new HashMap<>();
    private ImageReference baseSource;
    private final Map<Integer, StageState> built = new HashMap<>();
    private final Map<String, Path> downloads = new HashMap<>();
    private final Map<Digest, CachedLayer> cachedLayers = new HashMap<>();
    private final Set<Digest> storedLayers = new HashSet<>();
    /** Layers this build snapshotted itself, as opposed to taking them from a base image or the cache. */
    private final Set<Digest> builtLayers = new HashSet<>();
    private ImageSource imageSource;
    private ImageSink imageSink;
    private Path workParent;
    private LayerWriter writer;
    private LayerCache layerCache;
    private CachePolicy cachePolicy = CachePolicy.ALL;
    private InPlaceOptions inPlaceOptions = InPlaceOptions.DEFAULT;
    /** Set for {@code --sandbox in-place}: every stage is built in {@code /}, one at a time. */
    private InPlaceRoot inPlace;
    /** In place: the stage being built, and the one whose files are in {@code /} now. */
    private StageState building;
    private StageState occupant;

    /** The outcome: manifest digest, the bytes that make the image, and what was reused or moved. */
    public record Result(Digest digest, byte[] manifest, byte[] config, List<PulledImage.Blob> layers, Report report) {
    }

    /**
     * What a build reused and what it moved, each distinct blob counted once however many
     * destinations it went to.
     *
     * @param layersFromCache the image's layers that came from the layer cache instead of a step that ran
     * @param layersReused    the image's layers that no destination lacked (without destinations: those not
     *                        built by this build, i.e. from the base image or the cache)
     * @param bytesUploaded   bytes of blobs (config and layers) that some destination lacked
     * @param layerBytesUploaded the part of {@code bytesUploaded} that is layers
     * @param bytesNotUploaded bytes of blobs every destination already had or mounted
     * @param destinations    per destination, as the push saw it
     */
    public record Report(int layers, int layersFromCache, int layersReused, long bytesUploaded, long layerBytesUploaded,
                         long bytesNotUploaded, List<ImagePusher.Destination> destinations) {
        public Report {
            destinations = List.copyOf(destinations);
        }
    }

    private static final class StageState {
        Stage stage;
        Path rootfs;
        ImageConfig config;
        List<PulledImage.Blob> layers = new ArrayList<>();
        Instruction.Shell shell;
        ImageReference source;
        /** The layer-cache key so far: the base image's, then each filesystem step's. */
        String key;
        /** The stage this one starts from; its rootfs is copied when this one is materialized. */
        StageState parent;
        /**
         * Layers not yet unpacked into {@code rootfs}. A stage whose steps all come from the cache
         * never needs its files, so its rootfs is only materialized when a step must run or another
         * stage reads from it.
         */
        List<PulledImage.Blob> pending = new ArrayList<>();
        boolean materialized;
        Snapshotter snapshotter;
        /** False in a dry run once a step was not found in the cache: the stage's files are then unknown. */
        boolean complete = true;
    }

    public Executor(BuildOptions options, PrintStream log) {
        this(options, BuildLog.text(log));
    }

    public Executor(BuildOptions options, BuildLog log) {
        this.options = options;
        this.buildLog = log;
        this.log = log.stream(BuildLog.Level.INFO);
    }

    /** Context, sub-path, remote Dockerfile and secrets; see {@link BuildInputs}. */
    public Executor inputs(BuildInputs inputs) {
        this.inputs = inputs;
        for (MountResolver.SecretSource secret : inputs.secrets().values()) {
            try {
                buildLog.redact(secret.value() != null ? new String(secret.value(), StandardCharsets.UTF_8)
                        : Files.readString(secret.file()));
            } catch (IOException | RuntimeException unreadable) {
                // the RUN that mounts it reports the problem
            }
        }
        return this;
    }

    /** How base images are pulled and destinations pushed: plain HTTP, TLS checks, CA files per host. */
    public Executor registrySecurity(RegistrySecurity pull, RegistrySecurity push) {
        this.pullSecurity = pull;
        this.pushSecurity = push;
        return this;
    }

    /** Settings for {@code --sandbox in-place}; see {@link InPlaceOptions}. */
    public Executor inPlace(InPlaceOptions options) {
        this.inPlaceOptions = options;
        return this;
    }

    private boolean inPlaceMode() {
        return Sandboxes.Mode.of(options.sandbox()) == Sandboxes.Mode.IN_PLACE;
    }

    public Result build() throws BuildException {
        long start = System.nanoTime();
        if (inPlaceMode() && !InPlaceSandbox.allowed(inPlaceOptions.force())) {
            // checked before anything is fetched or written: in place, the first stage deletes this machine's files
            throw new BuildException("--sandbox in-place unpacks the base image over this machine's own / and runs RUN"
                    + " there, so it only runs in a dedicated executor container: set " + InPlaceSandbox.MARKER
                    + "=1 there (the executor image does), or pass --force");
        }
        try {
            Path cacheRoot = cacheRoot();
            buildDir = workParent != null ? Files.createTempDirectory(workParent, "kiln-build-")
                    : Files.createTempDirectory("kiln-build-");
            buildLog.debug("build dir " + buildDir);
            Path dir = buildDir;
            cleanup = new Thread(() -> deleteTree(dir), "kiln-build-cleanup");
            Runtime.getRuntime().addShutdownHook(cleanup);
            Result result;
            try {
                result = buildIn(cacheRoot);
            } finally {
                if (layerCache != null) {
                    layerCache.flush();
                }
            }
            log.printf("build done in %s%s%n", seconds(start),
                    result.digest() == null ? " (dry run: nothing was built or pushed)" : ": " + result.digest());
            return result;
        } catch (DockerfileException e) {
            throw new BuildException(e.getMessage(), e);
        } catch (IOException e) {
            throw new BuildException(e.getMessage() == null ? e.toString() : e.getMessage(), e);
        } finally {
            if (inPlace != null && inPlaceOptions.cleanup() && occupant != null) {
                cleanUpRoot();
            }
            if (buildDir != null) {
                deleteTree(buildDir);
            }
            if (cleanup != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(cleanup);
                } catch (IllegalStateException shuttingDown) {
                    // the hook runs anyway
                }
            }
        }
    }

    private Path cacheRoot() throws IOException {
        Path cacheRoot = options.cacheDir() != null ? options.cacheDir()
                : Path.of(System.getProperty("java.io.tmpdir"), "kiln-cache");
        return Files.createDirectories(cacheRoot);
    }

    /**
     * {@code kiln warm}: pulls images (manifests, configs, layers) into the cache dir, so builds read
     * them from there and only ask the registry what their tags point to.
     *
     * @return each image with the digest it was pulled at
     */
    public List<String> warm(List<String> images) throws BuildException {
        try {
            BlobCache cache = new BlobCache(cacheRoot().resolve("blobs"));
            List<String> warmed = new ArrayList<>();
            for (String image : images) {
                warmed.add(image + "@" + pull(image, cache, null).manifestDigest());
            }
            return warmed;
        } catch (IOException e) {
            throw new BuildException("error: " + e.getMessage(), e);
        }
    }

    /** The images that the stages {@code target} needs start from or copy from, after ARG expansion. */
    public static List<String> imagesUsedBy(String dockerfileText, String dockerfileName, Map<String, String> buildArgs,
                                            String target, String platform) throws BuildException {
        try {
            Stages stages = Stages.of(DockerfileParser.parse(dockerfileText, dockerfileName));
            Platform targetPlatform = Platform.parse(platform != null ? platform : hostPlatform());
            ArgScope global = ArgScope.global(stages.metaArgs(), buildArgs,
                    new BuildPlatforms(Platform.parse(hostPlatform()), targetPlatform), stages.expander());
            java.util.LinkedHashSet<String> images = new java.util.LinkedHashSet<>();
            for (Stage stage : stages.dependencies(target, global)) {
                String image = global.expand(stage.from().image());
                if (stages.baseStage(stage, global).isEmpty() && !image.equalsIgnoreCase("scratch")) {
                    images.add(image);
                }
                for (Step step : stage.steps()) {
                    if (step.instruction() instanceof Instruction.Copy copy && copy.from() != null) {
                        String from = global.expand(copy.from());
                        boolean isStage = from.matches("[0-9]+") || stages.byName(from).isPresent();
                        if (!isStage) {
                            images.add(from);
                        }
                    }
                }
            }
            return List.copyOf(images);
        } catch (DockerfileException e) {
            throw new BuildException(e.getMessage(), e);
        }
    }

    private Result buildIn(Path cacheRoot) throws IOException, BuildException {
        context = materializeContext();
        Path dockerfilePath = options.dockerfile();
        if (inputs.dockerfileUrl() != null) {
            dockerfilePath = downloadDockerfile(inputs.dockerfileUrl());
        } else if (!dockerfilePath.isAbsolute() && !Files.exists(dockerfilePath)) {
            dockerfilePath = context.resolve(dockerfilePath);
        }
        if (!Files.isRegularFile(dockerfilePath)) {
            throw new BuildException("cannot read Dockerfile " + options.dockerfile() + ": no file at "
                    + dockerfilePath.toAbsolutePath().normalize() + " (--dockerfile is relative to the context "
                    + context + " unless it exists as given)");
        }
        dockerfileName = dockerfilePath.getFileName().toString();
        if (inPlaceMode()) {
            inPlace = new InPlaceRoot(Path.of("/"), inPlaceIgnores(cacheRoot, dockerfilePath));
            buildLog.debug("in place: / is every stage's rootfs; kept out of it: " + inPlace.ignored());
        }
        Dockerfile dockerfile = DockerfileParser.parse(Files.readString(dockerfilePath), dockerfileName);
        Stages stages = Stages.of(dockerfile);
        DockerIgnore ignore = readIgnore(dockerfilePath);

        Platform target = Platform.parse(options.platform() != null ? options.platform() : hostPlatform());
        Platform host = Platform.parse(hostPlatform());
        ArgScope global = ArgScope.global(stages.metaArgs(), options.buildArgs(), new BuildPlatforms(host, target),
                stages.expander());
        List<Stage> needed = stages.dependencies(options.target(), global);
        BlobCache cache = new BlobCache(cacheRoot.resolve("blobs"));
        if (options.cacheDir() != null && KanikoWarmedDir.looksWarmed(options.cacheDir())) {
            // kaniko's warmer filled it: its images are read from there, each blob verified as it is copied in
            buildLog.debug("--cache-dir " + options.cacheDir() + " holds images kaniko's warmer wrote; reading them from there");
            cache = cache.withSeed(new KanikoWarmedDir(options.cacheDir()));
        }
        blobCache = cache;
        LayerWriter writer = options.reproducible()
                ? LayerWriter.reproducible(compression(), Instant.EPOCH)
                : new LayerWriter(compression(), MtimePolicy.keep());
        Instant created = options.reproducible() ? Instant.EPOCH : Instant.now();

        StageState last = null;
        for (Stage stage : needed) {
            last = buildStage(stages, stage, global, ignore, cache, writer, created, target);
            built.put(stage.index(), last);
        }
        ImageConfig config = last.config;
        for (Map.Entry<String, String> label : new java.util.TreeMap<>(options.labels()).entrySet()) {
            config = config.withConfig(config.config().withLabel(label.getKey(), label.getValue()));
        }
        config = config.withCreated(created);
        baseSource = last.source;
        if (plan != null) {
            return new Result(null, new byte[0], config.toJson(), List.copyOf(last.layers), report(last.layers, List.of()));
        }
        return finish(config, last.layers);
    }

    /** The context as a directory under the build dir (a local directory is used in place). */
    private Path materializeContext() throws IOException, BuildException {
        long t0 = System.nanoTime();
        ContextSource source = inputs.context() != null ? inputs.context()
                : ContextSources.local(options.context(), buildLog::warn);
        try {
            Path dir = source.materialize(Files.createDirectory(buildDir.resolve("context-source")));
            buildLog.log(dir.startsWith(buildDir) ? BuildLog.Level.INFO : BuildLog.Level.DEBUG,
                    "build context " + source.description() + " (" + seconds(t0) + ")");
            return ContextSources.subPath(dir, inputs.contextSubPath());
        } catch (ContextException e) {
            throw new BuildException(e.getMessage(), e);
        }
    }

    private Path downloadDockerfile(java.net.URI url) throws IOException, BuildException {
        String name = url.getPath() == null ? "" : url.getPath().substring(url.getPath().lastIndexOf('/') + 1);
        Path file = Files.createDirectory(buildDir.resolve("dockerfile")).resolve(name.isEmpty() ? "Dockerfile" : name);
        try {
            long bytes = inputs.downloads().download(url, file, "Dockerfile");
            buildLog.debug("downloaded Dockerfile " + url + ": " + bytes + " bytes");
        } catch (ContextException e) {
            throw new BuildException(e.getMessage(), e);
        }
        return file;
    }

    private StageState buildStage(Stages stages, Stage stage, ArgScope global, DockerIgnore ignore, BlobCache cache,
                                  LayerWriter writer, Instant created, Platform target) throws IOException, BuildException {
        int total = stage.steps().size() + 1;
        String stageLabel = "[" + stage.displayName() + "]";
        long t0 = System.nanoTime();
        StageState state = new StageState();
        state.stage = stage;
        building = state;
        state.rootfs = inPlace != null ? inPlace.root() : Files.createDirectory(buildDir.resolve("stage-" + stage.index()));
        String image = global.expand(stage.from().image());
        var base = stages.baseStage(stage, global);
        if (base.isPresent()) {
            StageState from = built.get(base.get().index());
            state.parent = from;
            state.config = from.config;
            state.layers.addAll(from.layers);
            state.shell = from.shell;
            state.source = from.source;
            state.key = from.key;
            state.complete = from.complete;
        } else if (image.equalsIgnoreCase("scratch")) {
            // BuildKit (and buildah) give a scratch stage the default PATH, so a later RUN or the image's user finds binaries.
            ImageConfig empty = ImageConfig.empty().withPlatform(target.os(), target.architecture(), target.variant());
            state.config = empty.withConfig(empty.config().withEnv(List.of(DEFAULT_PATH)));
            state.key = CacheKey.after("scratch " + target).part("layers", layerFormat(writer)).value();
        } else {
            PulledImage pulled = pull(image, cache, stage.fromNode());
            for (PulledImage.Blob layer : pulled.layers()) {
                state.pending.add(layer);
                state.layers.add(new PulledImage.Blob(ociLayer(layer.descriptor()), layer.file()));
            }
            state.config = pulled.config();
            state.source = pulled.source();
            state.key = CacheKey.after(pulled.manifestDigest().toString()).part("layers", layerFormat(writer)).value();
            if (state.config.config().shell() != null && !state.config.config().shell().isEmpty()) {
                state.shell = new Instruction.Shell(state.config.config().shell());
            }
        }
        List<Step> steps = new ArrayList<>();
        Set<Step> triggers = new HashSet<>();
        List<String> onBuild = state.config.config().onBuild();
        if (onBuild != null && !onBuild.isEmpty()) {
            for (String expression : onBuild) {
                try {
                    Dockerfile trigger = DockerfileParser.parse(expression, dockerfileName);
                    for (Node node : trigger.nodes()) {
                        Step step = new Step(node, dev.kiln.builder.dockerfile.InstructionParser.parse(node, dockerfileName));
                        steps.add(step);
                        triggers.add(step);
                    }
                } catch (DockerfileException e) {
                    throw new BuildException(dockerfileName + ":" + stage.fromNode().startLine() + ": ONBUILD trigger "
                            + expression + ": " + e.getMessage(), e);
                }
            }
            state.config = state.config.withConfig(state.config.config().withOnBuild(null));
        }
        steps.addAll(stage.steps());
        total = steps.size() + 1;
        log.printf("%s STEP 1/%d: %s (%s)%n", stageLabel, total, stage.fromNode().original().trim(), seconds(t0));
        stepFinished(stage, 1, total, stage.fromNode().original().trim(), t0, false);

        ArgScope scope = global.stage(envMap(state.config.config().env()));
        this.writer = writer;
        boolean cmdSet = false;
        int n = 1;
        for (Step step : steps) {
            n++;
            long ts = System.nanoTime();
            throwIfCancelled();
            boolean isTrigger = triggers.contains(step);
            Node node = isTrigger ? stage.fromNode() : step.node();
            String createdBy = isTrigger ? "ONBUILD " + step.node().original().trim() : node.original().trim();
            String outcome = "";
            try {
                Instruction instruction = step.instruction();
                ImageConfig.History history = ImageConfig.History.of(created, createdBy);
                if (!changesFilesystem(instruction)) {
                    apply(state, scope, instruction, ignore, cmdSet);
                    if (instruction instanceof Instruction.Cmd) {
                        cmdSet = true;
                    }
                    state.config = state.config.withEmptyLayerHistory(history.withEmptyLayer(true));
                } else {
                    String key = layerCache == null || state.key == null ? null
                            : stepKey(state, scope, instruction, step.node(), ignore);
                    Optional<CachedLayer> hit = key != null && cacheable(instruction) ? layerCache.find(key) : Optional.empty();
                    if (plan != null) {
                        plan.printf("%s STEP %d/%d: %s  %s %s%n", stageLabel, n, total, createdBy,
                                hit.isPresent() ? "HIT " : "MISS", key == null ? "(key known once earlier steps run)"
                                        : cacheable(instruction) ? key : key + " (not cached by policy)");
                        if (hit.isPresent()) {
                            useCached(state, scope, instruction, hit.get(), history);
                        } else {
                            state.complete = false;
                            if (instruction instanceof Instruction.Workdir wd) {
                                state.config = state.config.withConfig(
                                        state.config.config().withWorkingDir(workdir(state, scope, wd)));
                            }
                        }
                        state.key = key;
                        continue;
                    }
                    if (hit.isPresent()) {
                        useCached(state, scope, instruction, hit.get(), history);
                        outcome = "cached, ";
                    } else {
                        materialize(state);
                        if (!(instruction instanceof Instruction.Run)) {
                            state.snapshotter.beforeDirectChange();
                        }
                        apply(state, scope, instruction, ignore, cmdSet);
                        if (singleSnapshot && step != lastFilesystemStep(steps)) {
                            state.config = state.config.withEmptyLayerHistory(history.withEmptyLayer(true));
                        } else {
                            snapshotStep(state, instruction, history, key != null && cacheable(instruction) ? key : null,
                                    createdBy, n);
                        }
                    }
                    if (key != null) {
                        state.key = key;
                    }
                }
            } catch (BuildException | IOException | RuntimeException e) {
                String msg = e.getMessage() == null ? e.toString() : e.getMessage();
                throw new BuildException(dockerfileName + ":" + node.startLine() + ": " + createdBy + ": " + msg, e);
            }
            log.printf("%s STEP %d/%d: %s (%s%s)%n", stageLabel, n, total, createdBy, outcome, seconds(ts));
            stepFinished(stage, n, total, createdBy, ts, !outcome.isEmpty());
        }
        return state;
    }

    private static Step lastFilesystemStep(List<Step> steps) {
        Step last = null;
        for (Step step : steps) {
            if (changesFilesystem(step.instruction())) {
                last = step;
            }
        }
        return last;
    }

    private static boolean changesFilesystem(Instruction instruction) {
        return instruction instanceof Instruction.Run || instruction instanceof Instruction.Copy
                || instruction instanceof Instruction.Add || instruction instanceof Instruction.Workdir;
    }

    private boolean cacheable(Instruction instruction) {
        if (instruction instanceof Instruction.Run) {
            return cachePolicy.runLayers();
        }
        if (instruction instanceof Instruction.Copy || instruction instanceof Instruction.Add) {
            return cachePolicy.copyLayers();
        }
        return true;
    }

    /** Snapshots what a step just did into a layer (or an empty history entry), and offers it to the cache. */
    private void snapshotStep(StageState state, Instruction instruction, ImageConfig.History history, String cacheKey,
                              String createdBy, int n) throws IOException {
        Path tmp = buildDir.resolve("layer-" + state.stage.index() + "-" + n);
        SnapshotLayer layer;
        try (OutputStream out = Files.newOutputStream(tmp)) {
            layer = state.snapshotter.snapshot(out);
        }
        boolean keepsLayer = !layer.isEmpty() || instruction instanceof Instruction.Copy || instruction instanceof Instruction.Add;
        Path file = buildDir.resolve("layers").resolve(layer.layer().digest().hex());
        Files.createDirectories(file.getParent());
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        if (keepsLayer) {
            builtLayers.add(layer.layer().digest());
            state.layers.add(new PulledImage.Blob(layer.layer().descriptor(), file));
            state.config = state.config.withLayer(layer.layer().diffId(), history);
        } else {
            state.config = state.config.withEmptyLayerHistory(history.withEmptyLayer(true));
        }
        if (cacheKey != null) {
            storedLayers.add(layer.layer().digest());
            layerCache.store(cacheKey, layer.layer().descriptor(), layer.layer().diffId(), file, createdBy, layer.isEmpty());
        }
    }

    /** A cache hit: the step's layer joins the image (and the rootfs, if it is there) without running the step. */
    private void useCached(StageState state, ArgScope scope, Instruction instruction, CachedLayer hit,
                           ImageConfig.History history) throws IOException, BuildException {
        if (instruction instanceof Instruction.Workdir wd) {
            state.config = state.config.withConfig(state.config.config().withWorkingDir(workdir(state, scope, wd)));
        }
        boolean keepsLayer = !hit.empty() || instruction instanceof Instruction.Copy || instruction instanceof Instruction.Add;
        if (!keepsLayer) {
            state.config = state.config.withEmptyLayerHistory(history.withEmptyLayer(true));
            return;
        }
        Digest digest = hit.layer().parsedDigest();
        cachedLayers.put(digest, hit);
        PulledImage.Blob blob = new PulledImage.Blob(hit.layer(), null);
        state.layers.add(blob);
        state.config = state.config.withLayer(hit.diffId(), history);
        if (state.materialized) {
            extractor(state.rootfs).apply(fileOf(blob));
            state.snapshotter = startSnapshotter(state.rootfs);
        } else {
            state.pending.add(blob);
        }
    }

    /** Makes the stage's rootfs real: its base's files, then every pending layer, then a snapshot baseline. */
    private void materialize(StageState state) throws IOException, BuildException {
        if (state.materialized) {
            return;
        }
        long t0 = System.nanoTime();
        if (inPlace != null) {
            materializeInPlace(state);
            if (layerCache != null || occupant == state) {
                log.printf("[%s] unpacked the root filesystem %s (%s)%n", state.stage.displayName(),
                        occupant == state ? "over /" : "into the build dir", seconds(t0));
            }
            return;
        }
        if (state.parent != null) {
            materialize(state.parent);
            copyTree(state.parent.rootfs, state.rootfs);
        }
        LayerExtractor extractor = LayerExtractor.forRootfs(state.rootfs);
        for (PulledImage.Blob layer : state.pending) {
            extractor.apply(fileOf(layer));
        }
        state.pending.clear();
        state.snapshotter = startSnapshotter(state.rootfs);
        state.materialized = true;
        if (layerCache != null) {
            log.printf("[%s] unpacked the root filesystem (%s)%n", state.stage.displayName(), seconds(t0));
        }
    }

    /**
     * In place, only the stage being built lives in {@code /}: taking it over wipes the previous
     * stage's files and unpacks this stage's layers (its base's and the cached ones; an earlier
     * stage's layers when it starts FROM one). Another stage that a step reads from (COPY --from,
     * RUN --mount from=) is unpacked from its layers into a directory of the build dir instead.
     */
    private void materializeInPlace(StageState state) throws IOException {
        if (state != building) {
            state.rootfs = Files.createDirectories(buildDir.resolve("stage-" + state.stage.index()));
            LayerExtractor extractor = LayerExtractor.forRootfs(state.rootfs);
            for (PulledImage.Blob layer : state.layers) {
                extractor.apply(fileOf(layer));
            }
            state.pending.clear();
            state.materialized = true;
            return;
        }
        if (occupant != null) {
            occupant.materialized = false;
            occupant.snapshotter = null;
        }
        occupant = state;
        inPlace.wipe();
        LayerExtractor extractor = inPlace.extractor();
        for (PulledImage.Blob layer : state.layers) {
            extractor.apply(fileOf(layer));
        }
        state.pending.clear();
        state.rootfs = inPlace.root();
        state.snapshotter = startSnapshotter(state.rootfs);
        state.materialized = true;
    }

    /**
     * What in place never touches: Kiln's home, the kernel's filesystems, {@code /var/run}, every
     * mount point, {@code --ignore-path}s, and the files this build reads and writes.
     */
    private IgnoredPaths inPlaceIgnores(Path cacheRoot, Path dockerfilePath) throws IOException, BuildException {
        List<String> paths = new ArrayList<>(List.of("/proc", "/sys", "/dev"));
        if (inPlaceOptions.ignoreVarRun()) {
            paths.add("/var/run");
        }
        Path mountinfo = Path.of("/proc/self/mountinfo");
        if (Files.isReadable(mountinfo)) {
            paths.addAll(IgnoredPaths.mountPoints(Files.readString(mountinfo)));
        }
        paths.addAll(inPlaceOptions.ignorePaths());
        // java.home too: a Kiln that is not self-contained (a JDK in the image) must at least keep its runtime
        List<Path> used = new ArrayList<>(List.of(inPlaceOptions.kilnHome(), Path.of(System.getProperty("java.home")),
                buildDir, cacheRoot, context, dockerfilePath));
        for (Path output : new Path[] {options.tarPath(), options.ociLayoutPath(), options.digestFile(),
                options.imageNameWithDigestFile()}) {
            if (output != null) {
                used.add(output);
            }
        }
        for (MountResolver.SecretSource secret : inputs.secrets().values()) {
            if (secret.file() != null) {
                used.add(secret.file());
            }
        }
        for (Path p : used) {
            Path absolute = p.toAbsolutePath().normalize();
            paths.add((Files.exists(absolute) ? absolute.toRealPath() : absolute).toString());
        }
        try {
            return IgnoredPaths.of(paths);
        } catch (IllegalArgumentException e) {
            throw new BuildException("--sandbox in-place: " + e.getMessage()
                    + "; the context, outputs and --ignore-path must be below /, not / itself");
        }
    }

    /** {@code --cleanup}: the last stage's files go, so the container is as it was (but for its ignored paths). */
    private void cleanUpRoot() {
        try {
            inPlace.wipe();
            occupant = null;
            log.println("cleaned up /");
        } catch (IOException | RuntimeException e) {
            buildLog.warn("--cleanup: " + e.getMessage());
        }
    }

    private LayerExtractor extractor(Path rootfs) {
        return inPlace != null && rootfs.equals(inPlace.root()) ? inPlace.extractor() : LayerExtractor.forRootfs(rootfs);
    }

    private TreeScanner scanner(Path rootfs) {
        if (inPlace == null || !rootfs.equals(inPlace.root())) {
            return TreeScanner.withDefaults();
        }
        java.util.Set<String> ignored = new HashSet<>(TreeScanner.DEFAULT_IGNORED);
        ignored.addAll(inPlace.ignored().paths());
        return new TreeScanner(ignored);
    }

    private Snapshotter startSnapshotter(Path rootfs) throws IOException {
        // one snapshot for many steps is a walk against the stage's start; overlay snapshots are per RUN,
        // and never of / itself (in place, RUN runs on the container's root, not on an overlay of it)
        boolean inPlaceRoot = inPlace != null && rootfs.equals(inPlace.root());
        String mode = singleSnapshot || inPlaceRoot ? "walk" : options.snapshotMode();
        return Snapshotters.startingNow(Snapshotters.Mode.of(mode), rootfs, scanner(rootfs), writer, buildLog::warn);
    }

    private Path fileOf(PulledImage.Blob blob) throws IOException {
        if (blob.file() != null) {
            return blob.file();
        }
        CachedLayer cached = cachedLayers.get(blob.digest());
        if (cached == null) {
            throw new IOException("layer " + blob.digest() + " has no local file");
        }
        return layerCache.fetch(cached);
    }

    /**
     * The step's cache key: its parent's key and everything the step's result depends on (the
     * instruction after expansion; for RUN the variables, user, directory, shell and bind-mounted
     * content it sees; for COPY/ADD the content of what it reads). Secrets and cache mounts are left out.
     */
    private String stepKey(StageState state, ArgScope scope, Instruction instruction, Node node, DockerIgnore ignore)
            throws IOException, BuildException {
        ImageConfig.Container c = state.config.config();
        CacheKey key = CacheKey.after(state.key).part("instruction", node.original().trim());
        if (instruction instanceof Instruction.Workdir wd) {
            return key.part("dir", workdir(state, scope, wd)).value();
        }
        if (instruction instanceof Instruction.Run run) {
            key.part("argv", RunSpec.argv(state.shell, heredocCommand(run)))
                    .part("env", scope.variables())
                    .part("user", c.user())
                    .part("workdir", c.workingDir())
                    .part("network", run.network());
            for (dev.kiln.builder.dockerfile.Mount m : run.mounts()) {
                dev.kiln.builder.dockerfile.Mount mount = m.hasVariables() ? m.resolve(scope::expand) : m;
                key.part("mount", mount.type() + " " + mount.target() + " " + mount.id() + " " + mount.readOnly());
                if (mount.type() == dev.kiln.builder.dockerfile.Mount.Type.BIND) {
                    if (mount.from() != null && incompleteStage(mount.from())) {
                        return null;
                    }
                    Path root = mount.from() == null ? context : stageRootfs(mount.from());
                    String source = mount.source() == null || mount.source().isEmpty() ? "/" : mount.source();
                    key.part("bind " + mount.from(), new ContextCopier(root, false, null, RootfsPath.of(state.rootfs))
                            .digest(List.of(source)));
                }
            }
            return key.value();
        }
        List<String> sources;
        List<dev.kiln.builder.dockerfile.Heredoc> inline;
        String from = null;
        String chown;
        String chmod;
        String destination;
        if (instruction instanceof Instruction.Copy copy) {
            sources = copy.sources();
            inline = copy.inlineSources();
            from = copy.from() == null ? null : scope.expand(copy.from());
            chown = copy.chown();
            chmod = copy.chmod();
            destination = copy.destination();
        } else {
            Instruction.Add add = (Instruction.Add) instruction;
            sources = add.sources();
            inline = add.inlineSources();
            chown = add.chown();
            chmod = add.chmod();
            destination = add.destination();
        }
        key.part("workdir", c.workingDir())
                .part("destination", scope.expand(destination))
                .part("chown", chown == null ? null : scope.expand(chown))
                .part("chmod", chmod == null ? null : scope.expand(chmod));
        for (dev.kiln.builder.dockerfile.Heredoc h : inline) {
            key.part("inline " + h.name(), h.expand() ? scope.expand(h.text()) : h.text());
        }
        List<String> local = new ArrayList<>();
        for (String raw : sources) {
            String src = scope.expand(raw);
            if (src.startsWith("http://") || src.startsWith("https://")) {
                key.part("url " + src, digestOf(download(src)));
            } else {
                local.add(src);
            }
        }
        if (from != null && incompleteStage(from)) {
            return null;
        }
        Path sourceRoot = from != null ? stageRootfs(from) : context;
        ContextCopier reader = new ContextCopier(sourceRoot, from == null, ignore, RootfsPath.of(state.rootfs));
        return key.part("from", from).part("content", reader.digest(local)).value();
    }

    private boolean incompleteStage(String from) {
        return built.values().stream().anyMatch(st -> !st.complete
                && (from.equalsIgnoreCase(st.stage.name()) || from.equals(Integer.toString(st.stage.index()))));
    }

    private static String digestOf(Path file) throws IOException {
        try (java.io.InputStream in = Files.newInputStream(file)) {
            return dev.kiln.oci.Digester.digest(in, "sha256").toString();
        }
    }

    /** Layers written differently are different layers: a zstd build must not reuse gzip ones. */
    private String layerFormat(LayerWriter writer) {
        return writer.compression() + (options.reproducible() ? " reproducible" : "");
    }

    /** Applies one instruction; true when it touched the filesystem. */
    private boolean apply(StageState s, ArgScope scope, Instruction instruction, DockerIgnore ignore, boolean cmdSet)
            throws IOException, BuildException {
        ImageConfig.Container c = s.config.config();
            if (instruction instanceof Instruction.Env env) {
                scope.setEnv(env);
                List<String> list = new ArrayList<>();
                scope.env().forEach((k, v) -> list.add(k + "=" + v));
                s.config = s.config.withConfig(c.withEnv(list));
                return false;
            }
            if (instruction instanceof Instruction.Arg arg) {
                scope.declare(arg);
                return false;
            }
            if (instruction instanceof Instruction.Label label) {
                for (KeyValue kv : label.labels()) {
                    c = c.withLabel(scope.expand(kv.key()), scope.expand(kv.value()));
                }
                s.config = s.config.withConfig(c);
                return false;
            }
            if (instruction instanceof Instruction.Cmd cmd) {
                s.config = s.config.withConfig(c.withCmd(commandList(s, cmd.command())));
                return false;
            }
            if (instruction instanceof Instruction.Entrypoint ep) {
                c = c.withEntrypoint(commandList(s, ep.command()));
                if (!cmdSet) {
                    c = c.withCmd(null);
                }
                s.config = s.config.withConfig(c);
                return false;
            }
            if (instruction instanceof Instruction.Expose expose) {
                for (String port : expose.ports()) {
                    String p = scope.expand(port);
                    c = c.withExposedPort(p.contains("/") ? p.toLowerCase(Locale.ROOT) : p + "/tcp");
                }
                s.config = s.config.withConfig(c);
                return false;
            }
            if (instruction instanceof Instruction.Volume volume) {
                for (String path : volume.paths()) {
                    c = c.withVolume(scope.expand(path));
                }
                s.config = s.config.withConfig(c);
                return false;
            }
            if (instruction instanceof Instruction.User user) {
                s.config = s.config.withConfig(c.withUser(scope.expand(user.user())));
                return false;
            }
            if (instruction instanceof Instruction.StopSignal sig) {
                s.config = s.config.withConfig(c.withStopSignal(scope.expand(sig.signal())));
                return false;
            }
            if (instruction instanceof Instruction.Healthcheck hc) {
                List<String> test;
                if (hc.command() == null) {
                    test = List.of("NONE");
                } else if (hc.command() instanceof Command.ExecForm exec) {
                    test = new ArrayList<>(List.of("CMD"));
                    test.addAll(exec.args());
                } else {
                    test = List.of("CMD-SHELL", ((Command.ShellForm) hc.command()).script());
                }
                s.config = s.config.withConfig(c.withHealthcheck(new ImageConfig.Healthcheck(test, nanos(hc.interval()),
                        nanos(hc.timeout()), nanos(hc.startPeriod()), nanos(hc.startInterval()), hc.retries())));
                return false;
            }
            if (instruction instanceof Instruction.Shell shell) {
                s.shell = shell;
                s.config = s.config.withConfig(c.withShell(shell.shell()));
                return false;
            }
            if (instruction instanceof Instruction.Maintainer m) {
                s.config = s.config.withAuthor(m.name());
                return false;
            }
            if (instruction instanceof Instruction.Onbuild ob) {
                List<String> triggers = new ArrayList<>(c.onBuild() == null ? List.of() : c.onBuild());
                triggers.add(ob.expression());
                s.config = s.config.withConfig(c.withOnBuild(triggers));
                return false;
            }
            if (instruction instanceof Instruction.Workdir wd) {
                String dir = workdir(s, scope, wd);
                s.config = s.config.withConfig(c.withWorkingDir(dir));
                // created for the current USER, as BuildKit does, so that user can write in its WORKDIR
                RootfsPath root = RootfsPath.of(s.rootfs);
                ContextCopier.Attributes owner = null;
                if (c.user() != null && !c.user().isEmpty()) {
                    RunUser user = RunUser.resolve(root, c.user());
                    owner = new ContextCopier.Attributes(user.uid(), user.gid(), null);
                }
                new ContextCopier(context, true, ignore, root).mkdirs(dir, owner);
                return true;
            }
            if (instruction instanceof Instruction.Copy copy) {
                if (!copy.inlineSources().isEmpty()) {
                    copyInline(s, scope, copy.inlineSources(), copy.destination(), copy.chown(), copy.chmod());
                    if (copy.sources().isEmpty()) {
                        return true;
                    }
                }
                Path sourceRoot = context;
                boolean isContext = true;
                if (copy.from() != null) {
                    sourceRoot = stageRootfs(scope.expand(copy.from()));
                    isContext = false;
                }
                copyFiles(s, scope, copy.sources(), copy.destination(), copy.chown(), copy.chmod(), sourceRoot,
                        isContext, ignore, false);
                return true;
            }
            if (instruction instanceof Instruction.Add add) {
                if (!add.inlineSources().isEmpty()) {
                    copyInline(s, scope, add.inlineSources(), add.destination(), add.chown(), add.chmod());
                    if (add.sources().isEmpty()) {
                        return true;
                    }
                }
                List<String> local = new ArrayList<>();
                for (String raw : add.sources()) {
                    String src = scope.expand(raw);
                    if (src.startsWith("http://") || src.startsWith("https://")) {
                        addUrl(s, scope, src, add);
                    } else if (src.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*") || src.startsWith("git@")) {
                        throw new BuildException("ADD from a git repository is not supported yet: " + src);
                    } else {
                        local.add(raw);
                    }
                }
                if (local.isEmpty()) {
                    return true;
                }
                copyFiles(s, scope, local, add.destination(), add.chown(), add.chmod(), context,
                        true, ignore, add.unpack() == null || add.unpack());
                return true;
            }
            if (instruction instanceof Instruction.Run run) {
                run(s, scope, run);
                return true;
            }
            throw new BuildException("unexpected " + instruction.getClass().getSimpleName());
    }

    private static String workdir(StageState s, ArgScope scope, Instruction.Workdir wd) {
        return absolute(s.config.config().workingDir(), scope.expand(wd.path()));
    }

    /** {@code COPY <<EOF /dest}: each body becomes a file named after its delimiter, variables expanded unless quoted. */
    private void copyInline(StageState s, ArgScope scope, List<dev.kiln.builder.dockerfile.Heredoc> heredocs,
                            String destination, String chown, String chmod) throws IOException, BuildException {
        Path dir = Files.createTempDirectory(Files.createDirectories(buildDir.resolve("inline")), "src-");
        List<String> names = new ArrayList<>();
        for (dev.kiln.builder.dockerfile.Heredoc h : heredocs) {
            String text = h.expand() ? scope.expand(h.text()) : h.text();
            Files.writeString(dir.resolve(h.name()), text);
            Files.setAttribute(dir.resolve(h.name()), "unix:mode", 0644);
            names.add(h.name());
        }
        copyFiles(s, scope, names, destination, chown, chmod, dir, true, null, false);
    }

    /** {@code ADD URL DEST}: downloaded, not unpacked, mode 0600 unless --chmod, like Docker. */
    private void addUrl(StageState s, ArgScope scope, String url, Instruction.Add add) throws IOException, BuildException {
        Path file = download(url);
        copyFiles(s, scope, List.of(file.getFileName().toString()), add.destination(), add.chown(), add.chmod(),
                file.getParent(), true, null, false);
    }

    /** Downloads a URL once per build (the cache key reads it, then ADD copies it). */
    private Path download(String url) throws IOException, BuildException {
        Path done = downloads.get(url);
        if (done != null) {
            return done;
        }
        Path downloadDir = Files.createDirectories(buildDir.resolve("downloads"));
        String name = java.net.URI.create(url).getPath();
        name = name == null || name.isEmpty() || name.endsWith("/") ? "index.html" : name.substring(name.lastIndexOf('/') + 1);
        Path dir = Files.createTempDirectory(downloadDir, "add-");
        Path file = dir.resolve(name);
        long t0 = System.nanoTime();
        try {
            java.net.http.HttpResponse<Path> response = java.net.http.HttpClient.newBuilder()
                    .followRedirects(java.net.http.HttpClient.Redirect.NORMAL).build()
                    .send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(url)).build(),
                            java.net.http.HttpResponse.BodyHandlers.ofFile(file));
            if (response.statusCode() != 200) {
                throw new BuildException("downloading " + url + ": HTTP " + response.statusCode());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BuildException("interrupted");
        }
        Files.setAttribute(file, "unix:mode", 0600);
        log.printf("downloaded %s: %d bytes (%s)%n", url, Files.size(file), seconds(t0));
        downloads.put(url, file);
        return file;
    }

    private void copyFiles(StageState s, ArgScope scope, List<String> sources, String destination, String chown,
                           String chmod, Path sourceRoot, boolean isContext, DockerIgnore ignore, boolean unpack)
            throws IOException, BuildException {
        List<String> expanded = new ArrayList<>();
        for (String src : sources) {
            expanded.add(scope.expand(src));
        }
        String rawDest = scope.expand(destination);
        String dest = absolute(s.config.config().workingDir(), rawDest);
        if (rawDest.endsWith("/") && !dest.endsWith("/")) {
            dest = dest + "/";
        }
        if (inPlace != null && s.rootfs.equals(inPlace.root())
                && inPlace.ignored().covers(dev.kiln.oci.layer.LayerPaths.clean(dest))) {
            throw new BuildException("the destination " + dest + " is kept out of the image in place (ignored: "
                    + inPlace.ignored() + ")");
        }
        RootfsPath rootfs = RootfsPath.of(s.rootfs);
        Integer mode = null;
        if (chmod != null && !chmod.isEmpty()) {
            try {
                mode = Integer.parseInt(scope.expand(chmod), 8);
            } catch (NumberFormatException e) {
                throw new BuildException("invalid --chmod " + chmod + " (octal modes only)");
            }
        }
        ContextCopier.Attributes attributes = chown != null && !chown.isEmpty()
                ? ContextCopier.chown(rootfs, scope.expand(chown), mode)
                : new ContextCopier.Attributes(null, null, mode);
        new ContextCopier(sourceRoot, isContext, ignore, rootfs).cancelledBy(cancellation)
                .copy(expanded, dest, attributes, unpack);
    }

    private Path stageRootfs(String from) throws BuildException {
        for (StageState st : built.values()) {
            if (from.equalsIgnoreCase(st.stage.name()) || from.equals(Integer.toString(st.stage.index()))) {
                try {
                    materialize(st);
                } catch (IOException e) {
                    throw new BuildException("--from=" + from + ": " + e.getMessage(), e);
                }
                return st.rootfs;
            }
        }
        Path root = imageRoots.get(from);
        if (root == null) {
            try {
                root = Files.createDirectory(buildDir.resolve("image-" + imageRoots.size()));
                PulledImage pulled = pull(from, blobCache, null);
                LayerExtractor extractor = LayerExtractor.forRootfs(root);
                for (PulledImage.Blob layer : pulled.layers()) {
                    extractor.apply(layer.file());
                }
            } catch (IOException e) {
                throw new BuildException("--from=" + from + ": " + e.getMessage(), e);
            }
            imageRoots.put(from, root);
        }
        return root;
    }

    private void run(StageState s, ArgScope scope, Instruction.Run run) throws IOException, BuildException {
        if (sandbox == null) {
            sandbox = Sandboxes.choose(Sandboxes.Mode.of(options.sandbox()), inPlaceOptions.force());
        }
        List<String> env = new ArrayList<>();
        boolean hasPath = false;
        for (Map.Entry<String, String> e : scope.variables().entrySet()) {
            if (e.getValue() == null) {
                continue;
            }
            env.add(e.getKey() + "=" + e.getValue());
            hasPath |= e.getKey().equals("PATH");
        }
        if (!hasPath) {
            env.add(DEFAULT_PATH);
        }
        if (!scope.variables().containsKey("HOME")) {
            // as runc does for Docker: the user's home from the image's /etc/passwd, else /
            env.add("HOME=" + RunUser.home(RootfsPath.of(s.rootfs), s.config.config().user()));
        }
        ImageConfig.Container c = s.config.config();
        List<dev.kiln.builder.dockerfile.Mount> mounts = new ArrayList<>();
        for (dev.kiln.builder.dockerfile.Mount m : run.mounts()) {
            mounts.add(m.hasVariables() ? m.resolve(scope::expand) : m);
        }
        try (dev.kiln.builder.sandbox.MountResolver resolver = new dev.kiln.builder.sandbox.MountResolver(
                runCacheRoot(), inputs.secrets(), from -> from == null ? context : stageRootfsOrIo(from))) {
            List<dev.kiln.builder.sandbox.RunMount> runMounts = resolver.resolve(mounts);
            for (dev.kiln.builder.sandbox.RunMount m : runMounts) {
                if (m instanceof dev.kiln.builder.sandbox.RunMount.Secret secret) {
                    buildLog.debug("RUN gets a secret at " + secret.target());
                }
            }
            env.addAll(resolver.secretEnvironment());
            runIn(s, run, env, c, runMounts);
        }
    }

    /**
     * RUN with here-documents: a lone {@code <<EOF} makes the body the script; otherwise the
     * bodies follow the command line so the shell reads them as its own here-documents.
     */
    private static Command heredocCommand(Instruction.Run run) {
        if (run.heredocs().isEmpty() || !(run.command() instanceof Command.ShellForm shell)) {
            return run.command();
        }
        String line = shell.script().trim();
        if (run.heredocs().size() == 1 && line.matches("<<-?[\"']?" + java.util.regex.Pattern.quote(run.heredocs().get(0).name()) + "[\"']?")) {
            return new Command.ShellForm(run.heredocs().get(0).text());
        }
        StringBuilder script = new StringBuilder(shell.script()).append('\n');
        for (dev.kiln.builder.dockerfile.Heredoc h : run.heredocs()) {
            script.append(h.content());
            if (!h.content().isEmpty() && !h.content().endsWith("\n")) {
                script.append('\n');
            }
            script.append(h.name()).append('\n');
        }
        return new Command.ShellForm(script.toString());
    }

    private Path runCacheRoot() throws IOException {
        Path root = options.cacheDir() != null ? options.cacheDir().resolve("run-cache")
                : buildDir.resolve("run-cache");
        return Files.createDirectories(root);
    }

    private Path stageRootfsOrIo(String from) throws IOException {
        try {
            return stageRootfs(from);
        } catch (BuildException e) {
            throw new IOException(e.getMessage());
        }
    }

    /**
     * {@code RUN --network=none} is always isolated; {@code default} and {@code host} get the
     * host's network only where the builder allows it, and otherwise {@code default} is isolated
     * while an explicit {@code host} is refused rather than quietly run without it.
     */
    private RunSpec.Network network(Instruction.Run run) throws BuildException {
        RunSpec.Network asked;
        try {
            asked = RunSpec.Network.of(run.network());
        } catch (IllegalArgumentException e) {
            throw new BuildException("RUN --network=" + run.network() + ": " + e.getMessage());
        }
        if (asked == RunSpec.Network.NONE) {
            return RunSpec.Network.NONE;
        }
        if (networkAllowed) {
            return RunSpec.Network.HOST;
        }
        if (asked == RunSpec.Network.HOST) {
            throw new BuildException("RUN --network=host: this builder gives RUN no network (kiln build --network=default, "
                    + "or kiln.builds.allow-network=true on a gateway)");
        }
        return RunSpec.Network.NONE;
    }

    private void runIn(StageState s, Instruction.Run run, List<String> env, ImageConfig.Container c,
                       List<dev.kiln.builder.sandbox.RunMount> runMounts) throws IOException, BuildException {
        RunSpec spec = RunSpec.builder(s.rootfs, RunSpec.argv(s.shell, heredocCommand(run)))
                .mounts(runMounts)
                .env(env)
                .user(c.user())
                .workdir(c.workingDir())
                .network(network(run))
                .stdout(line -> log.println("  | " + line))
                .stderr(line -> log.println("  | " + line))
                .cancellation(cancellation)
                .build();
        ExecResult result;
        try {
            result = s.snapshotter.run(sandbox, spec);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BuildException("interrupted");
        }
        throwIfCancelled();
        if (!result.succeeded()) {
            throw new BuildException("the command returned a non-zero code: " + result.exitCode()
                    + (result.timedOut() ? " (timed out)" : ""));
        }
    }

    private PulledImage pull(String image, BlobCache cache, Node node) throws IOException, BuildException {
        long t0 = System.nanoTime();
        ImageReference ref;
        try {
            ref = ImageReference.parse(image);
        } catch (RuntimeException e) {
            throw new BuildException((node == null ? "" : dockerfileName + ":" + node.startLine() + ": ")
                    + "invalid image reference " + image);
        }
        ImageSource puller = imageSource != null ? imageSource : new ImagePuller(new Registries(pullSecurity != null
                ? pullSecurity : RegistrySecurity.plainHttp(Set.copyOf(options.insecureRegistries())), credentials),
                MirrorRoutes.of(options.registryMirrors(), options.registryMaps(), options.skipDefaultRegistryFallback()),
                cache, new Retry(options.downloadRetry(), Duration.ofMillis(500)));
        ImagePuller.Platform platform = options.platform() != null
                ? ImagePuller.Platform.parse(options.platform()) : ImagePuller.Platform.parse(hostPlatform());
        PulledImage pulled;
        try {
            pulled = puller.pull(ref, platform);
        } catch (IOException e) {
            throw new BuildException((node == null ? "" : dockerfileName + ":" + node.startLine() + ": ")
                    + "pulling " + image + ": " + e.getMessage() + (TlsTrust.untrustedCertificate(e)
                    ? "; pass --registry-certificate " + ref.registry() + "=CA.pem, or --skip-tls-verify-pull" : ""), e);
        }
        long bytes = pulled.layers().stream().mapToLong(b -> b.descriptor().size()).sum();
        log.printf("pulled %s (%s): %d layers, %d bytes (%s)%n", image, pulled.manifestDigest(), pulled.layers().size(),
                bytes, seconds(t0));
        return pulled;
    }

    private boolean singleSnapshot;
    private boolean ignoreImmutableTagErrors;

    /** The messages registries refuse an existing immutable tag with (kaniko's list: Artifact Registry's, ECR's). */
    private static final List<String> IMMUTABLE_TAG_ERRORS = List.of("The repository has enabled tag immutability",
            "cannot be overwritten because the repository is immutable");

    /** kaniko's {@code --push-ignore-immutable-tag-errors}: a refusal to move an immutable tag is not a failed push. */
    public Executor ignoreImmutableTagErrors(boolean value) {
        this.ignoreImmutableTagErrors = value;
        return this;
    }

    private static boolean immutableTagError(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = t.getMessage();
            if (message != null && IMMUTABLE_TAG_ERRORS.stream().anyMatch(message::contains)) {
                return true;
            }
        }
        return false;
    }

    /** kaniko's {@code --single-snapshot}: each stage's filesystem changes become one layer, taken after its last step. */
    public Executor singleSnapshot(boolean value) {
        this.singleSnapshot = value;
        return this;
    }

    /** Which steps' layers the cache serves and keeps (kaniko's --cache-run-layers, --cache-copy-layers). */
    public record CachePolicy(boolean runLayers, boolean copyLayers) {
        public static final CachePolicy ALL = new CachePolicy(true, true);
    }

    /** Builds with a layer cache: steps whose key is found are not run, the others' layers are stored. */
    public Executor cache(LayerCache cache, CachePolicy policy) {
        this.layerCache = cache;
        this.cachePolicy = policy;
        return this;
    }

    private PrintStream plan;

    /**
     * {@code --dry-run}: prints each step with its cache key and HIT or MISS to {@code plan}, runs
     * nothing and outputs nothing. Requires {@link #cache}.
     */
    public Executor dryRun(PrintStream plan) {
        this.plan = plan;
        return this;
    }

    private Cancellation cancellation = new Cancellation();
    private boolean networkAllowed;
    private Consumer<FinishedStep> stepListener = step -> { };
    private Registries.CredentialSource credentials = DockerCredentials.fromEnvironment();

    /**
     * A step that has run: its stage, its number of {@code total} (FROM is 1), the instruction, how
     * long it took and whether its layer came from the cache instead of running it.
     */
    public record FinishedStep(String stage, int number, int total, String instruction, Duration duration, boolean cached) {
    }

    /** Cancelling stops the build at the next step and kills a running RUN; nothing is pushed after it. */
    public Executor cancellation(Cancellation switchOff) {
        this.cancellation = switchOff;
        return this;
    }

    /**
     * Whether RUN may use the host's network ({@code RUN --network=default|host}); off by default,
     * when every RUN gets a network namespace with loopback only.
     */
    public Executor network(boolean allowed) {
        this.networkAllowed = allowed;
        return this;
    }

    /** Told about every step as it finishes, e.g. to report progress. */
    public Executor steps(Consumer<FinishedStep> listener) {
        this.stepListener = listener;
        return this;
    }

    /** Where credentials for base image registries and destinations come from (default: the docker config). */
    public Executor credentials(Registries.CredentialSource source) {
        this.credentials = source;
        return this;
    }

    /** Where base images come from instead of the registries (default: pulled over HTTP into the cache dir). */
    public Executor imageSource(ImageSource source) {
        this.imageSource = source;
        return this;
    }

    /** Where the image goes instead of being pushed over HTTP (default: {@link ImagePusher}). */
    public Executor imageSink(ImageSink sink) {
        this.imageSink = sink;
        return this;
    }

    /**
     * The directory the per-build temp dir is made in (default: {@code java.io.tmpdir}); next to a
     * store, layer files can be hard-linked into it instead of copied.
     */
    public Executor workDir(Path parent) {
        this.workParent = parent;
        return this;
    }

    private void throwIfCancelled() throws BuildException {
        if (cancellation.isCancelled()) {
            throw new BuildException("cancelled");
        }
    }

    private void stepFinished(Stage stage, int number, int total, String instruction, long startNanos, boolean cached) {
        stepListener.accept(new FinishedStep(stage.displayName(), number, total, instruction,
                Duration.ofNanos(System.nanoTime() - startNanos), cached));
    }

    /** {@code --insecure-pull} / {@code --insecure}: plain HTTP for base images / destinations. */
    public Executor insecure(boolean pull, boolean push) {
        Set<String> hosts = Set.copyOf(options.insecureRegistries());
        return registrySecurity(new RegistrySecurity(pull, hosts, false, Set.of(), Map.of()),
                new RegistrySecurity(push, hosts, false, Set.of(), Map.of()));
    }

    private Result finish(ImageConfig config, List<PulledImage.Blob> layers) throws IOException, BuildException {
        byte[] configBytes = config.toJson();
        Digest configDigest = Digest.sha256(configBytes);
        Path configFile = buildDir.resolve("config-" + configDigest.hex());
        Files.write(configFile, configBytes);
        Descriptor configDescriptor = new Descriptor(MediaTypes.OCI_CONFIG, configDigest, configBytes.length);
        byte[] manifestBytes = ImageManifests.oci(configDescriptor, layers.stream().map(PulledImage.Blob::descriptor).toList());
        Digest digest = Digest.sha256(manifestBytes);
        if (options.tarPath() != null || options.ociLayoutPath() != null) {
            List<PulledImage.Blob> local = new ArrayList<>();
            for (PulledImage.Blob layer : layers) {
                local.add(new PulledImage.Blob(layer.descriptor(), fileOf(layer)));
            }
            layers = local;
        }
        Result image = new Result(digest, manifestBytes, configBytes, List.copyOf(layers), null);
        PulledImage.Blob configBlob = new PulledImage.Blob(configDescriptor, configFile);

        List<ImageReference> destinations = new ArrayList<>();
        for (String d : options.destinations()) {
            destinations.add(ImageReference.parse(d));
        }
        if (options.tarPath() != null) {
            ImageFiles.writeDockerArchive(options.tarPath(), image, configBlob, options.destinations());
            log.printf("wrote docker archive %s%n", options.tarPath());
        }
        if (options.ociLayoutPath() != null) {
            ImageFiles.writeOciLayout(options.ociLayoutPath(), image, configBlob);
            log.printf("wrote OCI layout %s%n", options.ociLayoutPath());
        }
        List<ImagePusher.Destination> pushedTo = List.of();
        if (!options.noPush() && !destinations.isEmpty()) {
            long t0 = System.nanoTime();
            throwIfCancelled();
            ImageSink sink = imageSink != null ? imageSink : ImagePusher.sink(new Registries(pushSecurity != null
                    ? pushSecurity : RegistrySecurity.plainHttp(Set.copyOf(options.insecureRegistries())), credentials),
                    new Retry(options.pushRetry(), Duration.ofMillis(500)));
            Map<Digest, ImageReference> holders = new HashMap<>();
            if (baseSource != null) {
                layers.forEach(layer -> holders.put(layer.digest(), baseSource));
            }
            cachedLayers.forEach((layerDigest, cached) -> {
                if (cached.holder() != null) {
                    holders.put(layerDigest, cached.holder());
                }
            });
            if (layerCache != null && layerCache.holder() != null) {
                // the layers just built are on their way to the cache: once there, destinations on that registry mount them
                layerCache.flush();
                storedLayers.forEach(layerDigest -> holders.putIfAbsent(layerDigest, layerCache.holder()));
            }
            List<PulledImage.Blob> blobs = new ArrayList<>();
            blobs.add(configBlob);
            blobs.addAll(layers);
            ImagePusher.Result pushed;
            try {
                pushed = sink.push(new ImagePusher.Image(manifestBytes, MediaTypes.OCI_MANIFEST, blobs), destinations,
                        holders, this::fileOf);
            } catch (IOException e) {
                if (ignoreImmutableTagErrors && immutableTagError(e)) {
                    buildLog.warn("a destination's tag is immutable and already points elsewhere; the push counts as done"
                            + " (--push-ignore-immutable-tag-errors): " + e.getMessage());
                    pushed = new ImagePusher.Result(digest, List.of());
                } else {
                    throw new BuildException("push failed: " + e.getMessage() + (TlsTrust.untrustedCertificate(e)
                            ? "; pass --registry-certificate HOST=CA.pem, or --skip-tls-verify" : ""), e);
                }
            }
            for (ImagePusher.Destination d : pushed.destinations()) {
                log.printf("pushed %s: uploaded %d bytes in %d blobs; %d blobs (%d bytes) not uploaded: %d already there,"
                                + " %d mounted%n", d.reference(), d.bytesUploaded(), d.blobsUploaded(),
                        d.blobsMounted() + d.blobsExisting(), d.bytesSkipped(), d.blobsExisting(), d.blobsMounted());
            }
            log.printf("push took %s%n", seconds(t0));
            pushedTo = pushed.destinations();
        }
        if (options.digestFile() != null) {
            Files.writeString(options.digestFile(), digest.toString());
        }
        if (options.imageNameWithDigestFile() != null) {
            StringBuilder sb = new StringBuilder();
            for (ImageReference d : destinations) {
                sb.append(d.context()).append('@').append(digest).append('\n');
            }
            Files.writeString(options.imageNameWithDigestFile(), sb.toString());
        }
        List<PulledImage.Blob> all = new ArrayList<>();
        all.add(configBlob);
        all.addAll(layers);
        return new Result(digest, manifestBytes, configBytes, List.copyOf(layers), report(all, pushedTo));
    }

    /** {@code blobs}: what the image is made of (with or without its config); see {@link Report}. */
    private Report report(List<PulledImage.Blob> blobs, List<ImagePusher.Destination> destinations) {
        Map<Digest, Long> sizes = new LinkedHashMap<>();
        Set<Digest> layerDigests = new HashSet<>();
        for (PulledImage.Blob blob : blobs) {
            sizes.put(blob.digest(), blob.descriptor().size());
            if (!MediaTypes.OCI_CONFIG.equals(blob.descriptor().mediaType())) {
                layerDigests.add(blob.digest());
            }
        }
        Set<Digest> uploaded = new HashSet<>();
        destinations.forEach(d -> uploaded.addAll(d.uploaded()));
        Set<Digest> fresh = destinations.isEmpty() ? builtLayers : uploaded;
        long bytesUploaded = 0;
        long layerBytesUploaded = 0;
        long bytesNotUploaded = 0;
        for (Map.Entry<Digest, Long> blob : sizes.entrySet()) {
            if (uploaded.contains(blob.getKey())) {
                bytesUploaded += blob.getValue();
                layerBytesUploaded += layerDigests.contains(blob.getKey()) ? blob.getValue() : 0;
            } else if (!destinations.isEmpty()) {
                bytesNotUploaded += blob.getValue();
            }
        }
        int fromCache = (int) layerDigests.stream().filter(cachedLayers::containsKey).count();
        int reused = (int) layerDigests.stream().filter(d -> !fresh.contains(d)).count();
        return new Report(layerDigests.size(), fromCache, reused, bytesUploaded, layerBytesUploaded, bytesNotUploaded,
                destinations);
    }

    /** Docker layer media types become their OCI equivalents in the OCI manifest we write. */
    private static Descriptor ociLayer(Descriptor d) {
        String mt = switch (d.mediaType()) {
            case MediaTypes.DOCKER_LAYER_GZIP -> MediaTypes.OCI_LAYER_GZIP;
            case "application/vnd.docker.image.rootfs.diff.tar" -> MediaTypes.OCI_LAYER;
            default -> d.mediaType();
        };
        return new Descriptor(mt, d.parsedDigest(), d.size());
    }

    private Compression compression() throws BuildException {
        String name = options.compression() == null ? "gzip" : options.compression().toLowerCase(Locale.ROOT);
        int level = options.compressionLevel();
        return switch (name) {
            case "gzip" -> level > 0 ? Compression.gzip(level) : Compression.gzip();
            case "zstd" -> level > 0 ? Compression.zstd(level) : Compression.zstd();
            default -> throw new BuildException("unknown --compression " + name + " (gzip, zstd)");
        };
    }

    private DockerIgnore readIgnore(Path dockerfilePath) throws IOException {
        Path specific = dockerfilePath.resolveSibling(dockerfilePath.getFileName() + ".dockerignore");
        Path general = context.resolve(".dockerignore");
        Path chosen = Files.isRegularFile(specific) ? specific : Files.isRegularFile(general) ? general : null;
        return chosen == null ? DockerIgnore.of(List.of()) : DockerIgnore.parse(Files.readString(chosen));
    }

    static String hostPlatform() {
        String arch = System.getProperty("os.arch");
        return switch (arch) {
            case "amd64", "x86_64" -> "linux/amd64";
            case "aarch64", "arm64" -> "linux/arm64";
            default -> "linux/" + arch;
        };
    }

    private static String absolute(String workdir, String path) {
        if (path.startsWith("/")) {
            return path;
        }
        String base = workdir == null || workdir.isEmpty() ? "/" : workdir;
        String joined = ContextCopier.join(base, path);
        String normalized = Path.of(joined).normalize().toString();
        return normalized.isEmpty() ? "/" : normalized;
    }

    private static List<String> commandList(StageState s, Command command) {
        if (command instanceof Command.ExecForm exec) {
            return exec.args();
        }
        return RunSpec.argv(s.shell, command);
    }

    private static Map<String, String> envMap(List<String> env) {
        Map<String, String> map = new LinkedHashMap<>();
        if (env != null) {
            for (String e : env) {
                int eq = e.indexOf('=');
                if (eq > 0) {
                    map.put(e.substring(0, eq), e.substring(eq + 1));
                }
            }
        }
        return map;
    }

    private static long nanos(Duration d) {
        return d == null ? 0 : d.toNanos();
    }

    private static String seconds(long startNanos) {
        return String.format(Locale.ROOT, "%.2fs", (System.nanoTime() - startNanos) / 1e9);
    }

    private static void copyTree(Path from, Path to) throws IOException, BuildException {
        Process p = new ProcessBuilder("cp", "-a", from + "/.", to.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (p.waitFor() != 0) {
                throw new BuildException("copying stage rootfs failed: " + out.trim());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    static void deleteTree(Path dir) {
        Trees.deleteQuietly(dir);
    }
}
