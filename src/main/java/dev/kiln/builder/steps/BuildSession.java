package dev.kiln.builder.steps;

import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.rootfs.InPlaceRoot;
import dev.kiln.builder.sandbox.Cancellation;
import dev.kiln.builder.sandbox.MountResolver;
import dev.kiln.builder.sandbox.Sandbox;
import dev.kiln.builder.sandbox.SandboxPolicy;
import dev.kiln.builder.sandbox.Sandboxes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * What every step of one build shares: its temp dir, the context and its {@code .dockerignore},
 * the other stages, RUN's sandbox, network and secrets, the event listener, cancellation, and
 * (in place) the root that the build takes over. Made once per build; tests make one over a temp dir.
 */
public final class BuildSession {
    private final Path buildDir;
    private final Path context;
    private final DockerIgnore ignore;
    private final Consumer<BuildEvent> events;
    private final Cancellation cancellation;
    private final InPlaceRoot inPlace;
    private final Sandboxes.Mode sandboxMode;
    private final boolean forceInPlace;
    private final boolean allowNetwork;
    private final SandboxPolicy sandboxPolicy;
    private final Map<String, MountResolver.SecretSource> secrets;
    private final Path cacheDir;
    private StageRoots stages = StageRoots.NONE;
    private final UrlDownloads downloads;
    private final GitSources gitSources;
    private Sandbox sandbox;

    private BuildSession(Builder b) {
        this.buildDir = b.buildDir;
        this.context = b.context;
        this.ignore = b.ignore;
        this.events = b.events;
        this.cancellation = b.cancellation;
        this.inPlace = b.inPlace;
        this.sandboxMode = b.sandboxMode;
        this.forceInPlace = b.forceInPlace;
        this.allowNetwork = b.allowNetwork;
        this.sandboxPolicy = b.sandboxPolicy;
        this.secrets = Map.copyOf(b.secrets);
        this.cacheDir = b.cacheDir;
        this.sandbox = b.sandbox;
        this.downloads = new UrlDownloads(buildDir, events);
        // the process's own environment: GIT_CREDENTIAL_HOSTS is the operator's, never the Dockerfile's
        this.gitSources = new GitSources(buildDir, System.getenv(), events);
    }

    /** @param buildDir the build's own temp dir: inline sources and downloads go there */
    public static Builder builder(Path buildDir, Path context) {
        return new Builder(buildDir, context);
    }

    public Path buildDir() {
        return buildDir;
    }

    public Path context() {
        return context;
    }

    public DockerIgnore ignore() {
        return ignore;
    }

    public Cancellation cancellation() {
        return cancellation;
    }

    /** The root an in-place build takes over, or null. */
    public InPlaceRoot inPlace() {
        return inPlace;
    }

    /** Whether {@code rootfs} is the in-place root (where paths are ignored and RUN runs on {@code /}). */
    public boolean isInPlaceRoot(Path rootfs) {
        return inPlace != null && rootfs.equals(inPlace.root());
    }

    public boolean allowNetwork() {
        return allowNetwork;
    }

    /** What every RUN of this build gets; see {@link SandboxPolicy}. */
    public SandboxPolicy sandboxPolicy() {
        return sandboxPolicy;
    }

    public Map<String, MountResolver.SecretSource> secrets() {
        return secrets;
    }

    public StageRoots stages() {
        return stages;
    }

    /** The runner that owns the stages answers {@code --from}; set once it exists. */
    public void stages(StageRoots roots) {
        this.stages = Objects.requireNonNull(roots);
    }

    public UrlDownloads downloads() {
        return downloads;
    }

    public GitSources gitSources() {
        return gitSources;
    }

    public void event(BuildEvent event) {
        events.accept(event);
    }

    public void info(String message) {
        event(BuildEvent.Message.info(message));
    }

    public void throwIfCancelled() throws BuildException {
        if (cancellation.isCancelled()) {
            throw new BuildException("cancelled");
        }
    }

    /** RUN's sandbox, chosen when the first RUN needs one. */
    public synchronized Sandbox sandbox() throws IOException {
        if (sandbox == null) {
            sandbox = Sandboxes.choose(sandboxMode, forceInPlace);
        }
        return sandbox;
    }

    /** Where {@code RUN --mount=type=cache} keeps its directories: the cache dir's, else this build's. */
    public Path runCacheRoot() throws IOException {
        return Files.createDirectories(cacheDir != null ? cacheDir.resolve("run-cache") : buildDir.resolve("run-cache"));
    }

    public static final class Builder {
        private final Path buildDir;
        private final Path context;
        private DockerIgnore ignore = DockerIgnore.of(List.of());
        private Consumer<BuildEvent> events = e -> { };
        private Cancellation cancellation = new Cancellation();
        private InPlaceRoot inPlace;
        private Sandboxes.Mode sandboxMode = Sandboxes.Mode.AUTO;
        private boolean forceInPlace;
        private boolean allowNetwork;
        private SandboxPolicy sandboxPolicy = SandboxPolicy.DEFAULT;
        private Map<String, MountResolver.SecretSource> secrets = new HashMap<>();
        private Path cacheDir;
        private Sandbox sandbox;

        private Builder(Path buildDir, Path context) {
            this.buildDir = Objects.requireNonNull(buildDir);
            this.context = Objects.requireNonNull(context);
        }

        public Builder ignore(DockerIgnore v) { ignore = Objects.requireNonNull(v); return this; }
        public Builder events(Consumer<BuildEvent> v) { events = Objects.requireNonNull(v); return this; }
        public Builder cancellation(Cancellation v) { cancellation = Objects.requireNonNull(v); return this; }
        public Builder inPlace(InPlaceRoot v) { inPlace = v; return this; }
        public Builder sandbox(Sandboxes.Mode mode, boolean force) { sandboxMode = mode; forceInPlace = force; return this; }
        /** A sandbox made already (tests), instead of one chosen by mode. */
        public Builder sandbox(Sandbox v) { sandbox = v; return this; }
        public Builder allowNetwork(boolean v) { allowNetwork = v; return this; }
        public Builder sandboxPolicy(SandboxPolicy v) { sandboxPolicy = Objects.requireNonNull(v); return this; }
        public Builder secrets(Map<String, MountResolver.SecretSource> v) { secrets = Map.copyOf(v); return this; }
        /** Null: RUN cache mounts live in the build dir and go with it. */
        public Builder cacheDir(Path v) { cacheDir = v; return this; }

        public BuildSession build() {
            return new BuildSession(this);
        }
    }
}
