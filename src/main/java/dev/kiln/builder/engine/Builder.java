package dev.kiln.builder.engine;

import dev.kiln.builder.dockerfile.DockerfileException;
import dev.kiln.builder.layers.BuildLayers;
import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.Elapsed;
import dev.kiln.builder.exec.Redactor;
import dev.kiln.builder.output.BuildResult;
import dev.kiln.builder.output.ImageOutput;
import dev.kiln.builder.plan.BuildPlan;
import dev.kiln.builder.rootfs.InPlaceRoot;
import dev.kiln.builder.rootfs.Trees;
import dev.kiln.builder.sandbox.Cancellation;
import dev.kiln.builder.sandbox.InPlaceSandbox;
import dev.kiln.builder.stage.ImagePulls;
import dev.kiln.builder.stage.LayerLedger;
import dev.kiln.builder.stage.StageRunner;
import dev.kiln.builder.steps.BuildSession;
import dev.kiln.builder.steps.StageContext;
import dev.kiln.oci.image.ImageConfig;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.MtimePolicy;
import dev.kiln.registry.client.BlobCache;
import dev.kiln.registry.client.ImagePuller;
import dev.kiln.registry.client.ImagePusher;
import dev.kiln.registry.client.ImageSource;
import dev.kiln.registry.client.KanikoWarmedDir;
import dev.kiln.registry.client.MirrorRoutes;
import dev.kiln.registry.client.Registries;
import dev.kiln.registry.client.Retry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Builds a Dockerfile, for the CLI, the gateway and the in-place executor alike: the plan's
 * stages, each FROM pulled and unpacked into a rootfs under a per-build temp dir (in place: into
 * {@code /} itself), then the image written out and pushed. Nothing is pushed unless every step
 * succeeded; the temp dir is always removed, after the build has returned its result (see
 * {@link DeferredDeletion}). Everything it has to say goes to one listener.
 */
public final class Builder {
    private final Consumer<BuildEvent> listener;
    private final DeferredDeletion deletion;

    public Builder(Consumer<BuildEvent> listener) {
        this(listener, DeferredDeletion.process());
    }

    Builder(Consumer<BuildEvent> listener, DeferredDeletion deletion) {
        this.listener = listener;
        this.deletion = deletion;
    }

    public BuildResult build(BuildRequest request) throws BuildException {
        long start = System.nanoTime();
        if (request.inPlaceMode() && !InPlaceSandbox.allowed(request.inPlace().force())) {
            // checked before anything is fetched or written: in place, the first stage deletes this machine's files
            throw new BuildException("--sandbox in-place unpacks the base image over this machine's own / and runs RUN"
                    + " there, so it only runs in a dedicated executor container: set " + InPlaceSandbox.MARKER
                    + "=1 there (the executor image does), or pass --force");
        }
        Consumer<BuildEvent> events = redacting(listener, request);
        Path buildDir = null;
        Thread cleanup = null;
        // in place, --cleanup wipes / after the build, once "build done" is said, whatever the outcome
        AtomicReference<StageRunner> runner = new AtomicReference<>();
        BuildLayers kept = new BuildLayers().configure(request.layerStoreDir(), request.layerStoreMaxBytes());
        try {
            Path cacheRoot = cacheRoot(request);
            kept.defaults(cacheRoot.resolve("layers"), line -> events.accept(BuildEvent.Message.debug(line)));
            buildDir = request.workDir() != null ? Files.createTempDirectory(request.workDir(), "kiln-build-")
                    : Files.createTempDirectory("kiln-build-");
            events.accept(BuildEvent.Message.debug("build dir " + buildDir));
            Path dir = buildDir;
            cleanup = new Thread(() -> {
                // overlay mounts of kept layers go before the tree under them
                kept.close();
                Trees.deleteQuietly(dir);
            }, "kiln-build-cleanup");
            Runtime.getRuntime().addShutdownHook(cleanup);
            BuildResult result;
            try {
                result = buildIn(request, buildDir, cacheRoot, events, runner, kept);
            } finally {
                if (request.layerCache() != null) {
                    request.layerCache().flush();
                }
            }
            events.accept(BuildEvent.Message.info("build done in " + Elapsed.since(start)
                    + (result.digest() == null ? " (dry run: nothing was built or pushed)" : ": " + result.digest())));
            return result;
        } catch (DockerfileException e) {
            throw new BuildException(e.getMessage(), e);
        } catch (IOException e) {
            throw new BuildException(e.getMessage() == null ? e.toString() : e.getMessage(), e);
        } finally {
            if (runner.get() != null && request.inPlace().cleanup()) {
                try {
                    runner.get().cleanUpInPlace();
                } catch (IOException | RuntimeException e) {
                    events.accept(BuildEvent.Message.warn("--cleanup: " + e.getMessage()));
                }
            }
            // unmounted now: the tree below must be plain files when the deletion gets to it
            kept.close();
            if (buildDir != null) {
                deletion.delete(buildDir);
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

    private BuildResult buildIn(BuildRequest request, Path buildDir, Path cacheRoot, Consumer<BuildEvent> events,
                                AtomicReference<StageRunner> runnerOut, BuildLayers kept) throws IOException, BuildException {
        Workspace workspace = new Workspace(request, buildDir, events);
        workspace.prepare();
        InPlaceRoot inPlace = null;
        if (request.inPlaceMode()) {
            inPlace = workspace.inPlaceRoot(cacheRoot);
            events.accept(BuildEvent.Message.debug("in place: / is every stage's rootfs; kept out of it: " + inPlace.ignored()));
        }
        Path dockerfile = workspace.dockerfile();
        BuildPlan plan = BuildPlan.of(Files.readString(dockerfile), dockerfile.getFileName().toString(),
                request.buildArgs(), request.target(), request.platform());
        // its own switch: a failing stage stops the others, but the build was not cancelled by whoever asked for it
        Cancellation stages = new Cancellation();
        BuildSession session = BuildSession.builder(buildDir, workspace.context())
                .ignore(workspace.ignore())
                .events(events)
                .cancellation(stages)
                .inPlace(inPlace)
                .sandbox(request.sandbox(), request.inPlace().force())
                .allowNetwork(request.allowNetwork())
                .sandboxPolicy(request.sandboxPolicy())
                .secrets(request.inputs().secrets())
                .cacheDir(request.cacheDir())
                .build();
        BlobCache blobs = new BlobCache(cacheRoot.resolve("blobs"));
        if (request.cacheDir() != null && KanikoWarmedDir.looksWarmed(request.cacheDir())) {
            // kaniko's warmer filled it: its images are read from there, each blob verified as it is copied in
            events.accept(BuildEvent.Message.debug("--cache-dir " + request.cacheDir()
                    + " holds images kaniko's warmer wrote; reading them from there"));
            blobs = blobs.withSeed(new KanikoWarmedDir(request.cacheDir()));
        }
        LayerWriter writer = request.reproducible() ? LayerWriter.reproducible(request.compression(), Instant.EPOCH)
                : new LayerWriter(request.compression(), MtimePolicy.keep());
        Instant created = request.reproducible() ? Instant.EPOCH : Instant.now();
        String layerFormat = writer.compression() + (request.reproducible() ? " reproducible" : "");
        LayerLedger ledger = new LayerLedger(request.layerCache());
        StageRunner runner = new StageRunner(session, plan, pulls(request, blobs, events), ledger, kept,
                new StageRunner.Settings(request.layerCache(), request.cachePolicy(), request.dryRun(),
                        request.singleSnapshot(), writer, layerFormat, created, request.snapshotMode(),
                        request.maxParallelStages()));
        runnerOut.set(runner);
        Runnable cancel = stages::cancel;
        request.cancellation().onCancel(cancel);
        StageContext last;
        try {
            last = runner.runAll();
        } finally {
            request.cancellation().remove(cancel);
        }
        ImageConfig config = last.config();
        for (Map.Entry<String, String> label : new TreeMap<>(request.labels()).entrySet()) {
            config = config.withConfig(config.config().withLabel(label.getKey(), label.getValue()));
        }
        config = config.withCreated(created);
        ImageOutput output = new ImageOutput(request.outputs(), request.imageSink() != null ? request.imageSink()
                : ImagePusher.sink(new Registries(request.pushSecurity(), request.credentials()),
                        new Retry(request.pushRetry(), Duration.ofMillis(500)), request.progress()),
                ledger, request.layerCache(), buildDir, request.cancellation(), request.ignoreImmutableTagErrors(), events);
        if (request.dryRun()) {
            return output.dryRun(config, last.layers());
        }
        return output.write(config, last.layers(), last.source());
    }

    /**
     * Waits until the build dirs of the builds that have returned are gone (they go after the result:
     * {@link DeferredDeletion}), for whoever must see them gone, as tests do.
     *
     * @return false when {@code timeout} passed first
     */
    public static boolean awaitBuildDirsRemoved(Duration timeout) throws InterruptedException {
        return DeferredDeletion.process().awaitIdle(timeout.toMillis());
    }

    /**
     * {@code kiln warm}: pulls images (manifests, configs, layers) into the request's cache dir, so
     * builds read them from there and only ask the registry what their tags point to.
     *
     * @return each image with the digest it was pulled at
     */
    public List<String> warm(BuildRequest request, List<String> images) throws BuildException {
        try {
            ImagePulls pulls = pulls(request, new BlobCache(cacheRoot(request).resolve("blobs")), listener);
            List<String> warmed = new ArrayList<>();
            for (String image : images) {
                warmed.add(image + "@" + pulls.pull(image, "").manifestDigest());
            }
            return warmed;
        } catch (IOException e) {
            throw new BuildException("error: " + e.getMessage(), e);
        }
    }

    private static ImagePulls pulls(BuildRequest request, BlobCache blobs, Consumer<BuildEvent> events) {
        BuildRequest.Pulls p = request.pulls();
        ImageSource source = request.imageSource() != null ? request.imageSource()
                : new ImagePuller(new Registries(request.pullSecurity(), request.credentials()),
                        MirrorRoutes.of(p.registryMirrors(), p.registryMaps(), p.skipDefaultRegistryFallback()), blobs,
                        new Retry(p.downloadRetry(), Duration.ofMillis(500))).withProgress(request.progress());
        return new ImagePulls(source, request.platform() != null ? request.platform() : BuildPlan.hostPlatform(), events);
    }

    private static Path cacheRoot(BuildRequest request) throws IOException {
        Path cacheRoot = request.cacheDir() != null ? request.cacheDir()
                : Path.of(System.getProperty("java.io.tmpdir"), "kiln-cache");
        return Files.createDirectories(cacheRoot);
    }

    /** Secret values never reach the listener, whoever prints the message. */
    private static Consumer<BuildEvent> redacting(Consumer<BuildEvent> listener, BuildRequest request) {
        if (request.inputs().secrets().isEmpty()) {
            return listener;
        }
        Redactor redactor = new Redactor();
        redactor.addAll(request.inputs().secrets());
        return event -> {
            if (event instanceof BuildEvent.Message m) {
                listener.accept(new BuildEvent.Message(m.level(), redactor.apply(m.text())));
            } else if (event instanceof BuildEvent.StepFinished s) {
                listener.accept(new BuildEvent.StepFinished(s.stage(), s.number(), s.total(), redactor.apply(s.instruction()),
                        s.duration(), s.cached()));
            } else {
                listener.accept(event);
            }
        };
    }
}
