package dev.kiln.builder.stage;

import dev.kiln.builder.cache.CachePolicy;
import dev.kiln.builder.cache.CachedLayer;
import dev.kiln.builder.cache.LayerCache;
import dev.kiln.builder.dockerfile.DockerfileException;
import dev.kiln.builder.dockerfile.Node;
import dev.kiln.builder.dockerfile.Stage;
import dev.kiln.builder.dockerfile.Step;
import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.plan.BuildPlan;
import dev.kiln.builder.layers.BuildLayers;
import dev.kiln.builder.rootfs.RootfsMaterializer;
import dev.kiln.builder.snapshot.SnapshotLayer;
import dev.kiln.builder.snapshot.Snapshotters;
import dev.kiln.builder.steps.BuildSession;
import dev.kiln.builder.steps.BuildStep;
import dev.kiln.builder.steps.StageContext;
import dev.kiln.oci.image.ImageConfig;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.registry.client.PulledImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Runs a plan's stages: FROM, then each step, looked up in the layer cache first when it touches
 * files; a miss materializes the rootfs, runs the step and snapshots it into a layer that is
 * offered to the cache. In a dry run, filesystem steps are only looked up. Stages that do not
 * need each other run concurrently ({@link ParallelStages}), except in place (one {@code /}) and
 * in a dry run (its plan is printed in file order); with one at a time they run in file order.
 */
public final class StageRunner {

    /**
     * @param cache          the layer cache, or null
     * @param singleSnapshot one layer per stage, after its last filesystem step (kaniko's --single-snapshot)
     * @param created        the time in the history entries
     * @param maxParallel    how many stages may run at once; 1 builds them one after the other
     */
    public record Settings(LayerCache cache, CachePolicy policy, boolean dryRun, boolean singleSnapshot,
                           LayerWriter writer, String layerFormat, Instant created, Snapshotters.Mode snapshotMode,
                           int maxParallel) {
        public Settings {
            if (maxParallel < 1) {
                throw new IllegalArgumentException("at least one stage must be able to run, not " + maxParallel);
            }
        }
    }

    private final BuildSession session;
    private final BuildPlan plan;
    private final Settings settings;
    private final LayerLedger ledger;
    private final FromStep from;
    private final StageRootfs roots;
    private final DirectCopy direct;
    private final BuildLayers kept;

    /** @param kept base layers kept unpacked across builds (a store of none unpacks every layer into the build) */
    public StageRunner(BuildSession session, BuildPlan plan, ImagePulls pulls, LayerLedger ledger, BuildLayers kept,
                       Settings settings) {
        this.session = session;
        this.plan = plan;
        this.settings = settings;
        this.ledger = ledger;
        this.from = new FromStep(plan, pulls, settings.layerFormat());
        this.roots = new StageRootfs(session, pulls, new RootfsMaterializer(ledger, session.inPlace(), kept), settings.writer(),
                settings.singleSnapshot() ? Snapshotters.Mode.WALK : settings.snapshotMode(), settings.cache() != null);
        session.stages(roots);
        this.direct = new DirectCopy(session, kept, ledger, settings.writer());
        this.kept = kept;
    }

    /** Builds every stage of the plan; answers the last one, whose config and layers are the image. */
    public StageContext runAll() throws IOException, BuildException {
        if (settings.maxParallel() > 1 && plan.stages().size() > 1 && session.inPlace() == null && !settings.dryRun()) {
            return new ParallelStages(plan, settings.maxParallel(), session.cancellation()).run((stage, slot) -> {
                StageContext built = run(stage, slot);
                roots.built.put(stage.index(), built);
                return built;
            });
        }
        StageContext last = null;
        for (Stage stage : plan.stages()) {
            last = run(stage, null);
            roots.built.put(stage.index(), last);
        }
        return last;
    }

    /** In place with {@code --cleanup}: removes the last stage's files from {@code /}. */
    public void cleanUpInPlace() throws IOException {
        roots.cleanUp();
    }

    /** @param slot the stage's turn when stages run concurrently, else null */
    private StageContext run(Stage stage, ParallelStages.Slot slot) throws IOException, BuildException {
        long t0 = System.nanoTime();
        FromStep.Started started = from.start(session, stage, roots.newRootfs(stage.index()), roots.built);
        StageContext s = started.context();
        if (slot != null) {
            slot.await(triggerDependencies(stage, started.triggers()));
        }
        roots.building = s;
        List<Step> steps = started.steps();
        int total = steps.size() + 1;
        String label = stage.displayName();
        finished(label, 1, total, stage.fromNode().original().trim(), t0, false);
        Step lastFilesystemStep = null;
        for (Step step : steps) {
            if (BuildStep.of(step).changesFilesystem()) {
                lastFilesystemStep = step;
            }
        }
        int n = 1;
        for (Step step : steps) {
            n++;
            long ts = System.nanoTime();
            session.throwIfCancelled();
            boolean isTrigger = started.triggers().contains(step);
            if (plan.stages().size() > 1) {
                s.outputPrefix("[" + label + " " + n + "/" + total + "] | ");
            }
            Node node = isTrigger ? stage.fromNode() : step.node();
            String createdBy = isTrigger ? "ONBUILD " + step.node().original().trim() : node.original().trim();
            Boolean cached;
            try {
                cached = runStep(s, BuildStep.of(step), step == lastFilesystemStep, createdBy, label, n, total);
            } catch (BuildException | IOException | RuntimeException e) {
                String msg = e.getMessage() == null ? e.toString() : e.getMessage();
                throw new BuildException(plan.dockerfileName() + ":" + node.startLine() + ": " + createdBy + ": " + msg, e);
            }
            if (cached != null) {
                finished(label, n, total, createdBy, ts, cached);
            }
        }
        return s;
    }

    /** @return whether the step's layer came from the cache; null in a dry run, where the step did not run */
    private Boolean runStep(StageContext s, BuildStep step, boolean lastFilesystemStep, String createdBy, String label,
                            int n, int total) throws IOException, BuildException {
        ImageConfig.History history = ImageConfig.History.of(settings.created(), createdBy);
        if (!step.changesFilesystem()) {
            step.apply(s);
            s.config(s.config().withEmptyLayerHistory(history.withEmptyLayer(true)));
            return false;
        }
        LayerCache cache = settings.cache();
        boolean cacheable = cacheable(step);
        String key = cache == null || s.key() == null ? null : step.cacheKey(s);
        Optional<CachedLayer> hit = key != null && cacheable ? cache.find(key) : Optional.empty();
        if (settings.dryRun()) {
            session.event(new BuildEvent.StepPlanned(label, n, total, createdBy, hit.isPresent(), key, cacheable));
            if (hit.isPresent()) {
                useCached(s, step, hit.get(), history);
            } else {
                s.complete(false);
                step.applyConfigOnly(s);
            }
            s.key(key);
            return null;
        }
        boolean fromCache = hit.isPresent();
        if (fromCache) {
            useCached(s, step, hit.get(), history);
        } else {
            DirectCopy.Scratch scratch = settings.singleSnapshot() ? null : direct.run(s, step);
            if (scratch == null) {
                roots.materialize(s);
                if (step.kind() != BuildStep.Kind.RUN) {
                    s.snapshotter().beforeDirectChange();
                }
                step.apply(s);
            }
            if (settings.singleSnapshot() && !lastFilesystemStep) {
                s.config(s.config().withEmptyLayerHistory(history.withEmptyLayer(true)));
            } else {
                snapshot(s, step, history, key != null && cacheable ? key : null, createdBy, n);
            }
            if (scratch != null) {
                direct.leave(s, scratch);
            }
        }
        if (key != null) {
            s.key(key);
        }
        return fromCache;
    }

    /**
     * The stages a base image's ONBUILD triggers read that are not built yet. Only earlier stages
     * count, as when stages run one after the other (a later one there is taken for an image), and
     * none that needs this stage, which would wait for each other.
     */
    private List<Stage> triggerDependencies(Stage stage, List<Step> triggers) {
        if (triggers.isEmpty()) {
            return List.of();
        }
        try {
            return plan.stagesNamedBy(triggers).stream()
                    .filter(d -> d.index() < stage.index() && !plan.dependsOn(d, stage))
                    .toList();
        } catch (DockerfileException e) {
            // a --from no stage answers to: the trigger's step says so when it runs
            return List.of();
        }
    }

    private boolean cacheable(BuildStep step) {
        return switch (step.kind()) {
            case RUN -> settings.policy().runLayers();
            case COPY -> settings.policy().copyLayers();
            default -> true;
        };
    }

    /** Snapshots what a step just did into a layer (or an empty history entry), and offers it to the cache. */
    private void snapshot(StageContext s, BuildStep step, ImageConfig.History history, String cacheKey, String createdBy,
                          int n) throws IOException {
        Path tmp = session.buildDir().resolve("layer-" + s.stage().index() + "-" + n);
        SnapshotLayer layer;
        try (OutputStream out = Files.newOutputStream(tmp)) {
            layer = s.snapshotter().snapshot(out);
        }
        Path file = session.buildDir().resolve("layers").resolve(layer.layer().digest().hex());
        Files.createDirectories(file.getParent());
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        if (keepsLayer(step, layer.isEmpty())) {
            ledger.built(layer.layer().digest());
            s.layers().add(new PulledImage.Blob(layer.layer().descriptor(), file));
            s.config(s.config().withLayer(layer.layer().diffId(), history));
        } else {
            s.config(s.config().withEmptyLayerHistory(history.withEmptyLayer(true)));
        }
        if (cacheKey != null) {
            ledger.stored(layer.layer().digest());
            settings.cache().store(cacheKey, layer.layer().descriptor(), layer.layer().diffId(), file, createdBy,
                    layer.isEmpty());
            if (kept != null) {
                kept.listed(layer.layer().diffId(), layer.layer().headers());
            }
        }
    }

    /** A cache hit: the step's layer joins the image (and the rootfs, if it is there) without running the step. */
    private void useCached(StageContext s, BuildStep step, CachedLayer hit, ImageConfig.History history) throws IOException {
        step.applyConfigOnly(s);
        if (!keepsLayer(step, hit.empty())) {
            s.config(s.config().withEmptyLayerHistory(history.withEmptyLayer(true)));
            return;
        }
        ledger.fromCache(hit);
        PulledImage.Blob blob = new PulledImage.Blob(hit.layer(), null);
        s.layers().add(blob);
        s.config(s.config().withLayer(hit.diffId(), history));
        if (s.materialized()) {
            roots.addLayer(s, blob);
        } else {
            s.pending().add(blob);
        }
    }

    /** COPY and ADD are a layer even when they changed nothing (as in Docker); RUN and WORKDIR only when they did. */
    private static boolean keepsLayer(BuildStep step, boolean empty) {
        return !empty || step.kind() == BuildStep.Kind.COPY;
    }

    private void finished(String stage, int number, int total, String instruction, long startNanos, boolean cached) {
        session.event(new BuildEvent.StepFinished(stage, number, total, instruction,
                Duration.ofNanos(System.nanoTime() - startNanos), cached));
    }
}
