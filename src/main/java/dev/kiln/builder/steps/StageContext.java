package dev.kiln.builder.steps;

import dev.kiln.builder.dockerfile.ArgScope;
import dev.kiln.builder.dockerfile.Instruction;
import dev.kiln.builder.dockerfile.Stage;
import dev.kiln.builder.exec.ContextCopier;
import dev.kiln.builder.snapshot.Snapshotter;
import dev.kiln.oci.image.ImageConfig;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.PulledImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One stage while it is built: the image config so far, its layers, the ARG/ENV scope, the
 * shell, its rootfs (real once materialized) and its snapshotter, and the layer-cache key of the
 * last step. Steps read and change it; the stage runner decides when the rootfs becomes real.
 */
public final class StageContext {
    /** Docker's PATH, for RUN when neither the image nor the Dockerfile sets one. */
    public static final String DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private final BuildSession session;
    private final Stage stage;
    private Path rootfs;
    private ImageConfig config;
    private ArgScope scope;
    private Instruction.Shell shell;
    private ImageReference source;
    private String key;
    private StageContext parent;
    private final List<PulledImage.Blob> layers = new ArrayList<>();
    private final List<PulledImage.Blob> pending = new ArrayList<>();
    private boolean materialized;
    private Snapshotter snapshotter;
    private boolean complete = true;
    private boolean cmdSet;
    private volatile String outputPrefix = "  | ";

    /** @param rootfs where the stage's files are (or will be, once materialized) */
    public StageContext(BuildSession session, Stage stage, Path rootfs, ImageConfig config) {
        this.session = Objects.requireNonNull(session);
        this.stage = stage;
        this.rootfs = rootfs;
        this.config = Objects.requireNonNull(config);
    }

    public BuildSession session() {
        return session;
    }

    public Stage stage() {
        return stage;
    }

    public Path rootfs() {
        return rootfs;
    }

    public void rootfs(Path dir) {
        this.rootfs = dir;
    }

    public ImageConfig config() {
        return config;
    }

    public void config(ImageConfig value) {
        this.config = Objects.requireNonNull(value);
    }

    /** The container part of the config: env, user, workdir, cmd… */
    public ImageConfig.Container container() {
        return config.config();
    }

    public void container(ImageConfig.Container value) {
        this.config = config.withConfig(value);
    }

    /** Build args and environment as the stage's steps see them; set when the stage starts. */
    public ArgScope scope() {
        return scope;
    }

    public void scope(ArgScope value) {
        this.scope = value;
    }

    /** The SHELL in effect, or null for the default {@code /bin/sh -c}. */
    public Instruction.Shell shell() {
        return shell;
    }

    public void shell(Instruction.Shell value) {
        this.shell = value;
    }

    /** The registry image the stage's base came from (its layers can be mounted from there), or null. */
    public ImageReference source() {
        return source;
    }

    public void source(ImageReference value) {
        this.source = value;
    }

    /** The layer-cache key so far: the base image's, then each filesystem step's; null when unknown. */
    public String key() {
        return key;
    }

    public void key(String value) {
        this.key = value;
    }

    /** The stage this one starts from: its rootfs is copied when this one is materialized. */
    public StageContext parent() {
        return parent;
    }

    public void parent(StageContext value) {
        this.parent = value;
    }

    /** The image's layers so far (live list). */
    public List<PulledImage.Blob> layers() {
        return layers;
    }

    /** Layers in the image but not yet unpacked into the rootfs (live list). */
    public List<PulledImage.Blob> pending() {
        return pending;
    }

    public boolean materialized() {
        return materialized;
    }

    public void materialized(boolean value) {
        this.materialized = value;
    }

    public Snapshotter snapshotter() {
        return snapshotter;
    }

    public void snapshotter(Snapshotter value) {
        this.snapshotter = value;
    }

    /** False in a dry run once a step missed the cache: the stage's files are then unknown. */
    public boolean complete() {
        return complete;
    }

    public void complete(boolean value) {
        this.complete = value;
    }

    /** Whether the stage set CMD itself (an ENTRYPOINT after it keeps it; before it, ENTRYPOINT clears the base's). */
    public boolean cmdSet() {
        return cmdSet;
    }

    public void cmdSet(boolean value) {
        this.cmdSet = value;
    }

    /** {@code path} against the current WORKDIR, normalized; absolute paths as they are. */
    public String absolute(String path) {
        if (path.startsWith("/")) {
            return path;
        }
        String workdir = container().workingDir();
        String base = workdir == null || workdir.isEmpty() ? "/" : workdir;
        String normalized = Path.of(ContextCopier.join(base, path)).normalize().toString();
        return normalized.isEmpty() ? "/" : normalized;
    }

    /** The stage's name in log lines. */
    /** What starts each line a RUN prints: with several stages, the stage and step, as BuildKit shows them. */
    public String outputPrefix() {
        return outputPrefix;
    }

    public void outputPrefix(String prefix) {
        this.outputPrefix = Objects.requireNonNull(prefix);
    }

    public String label() {
        return stage == null ? "stage" : stage.displayName();
    }
}
