package dev.kiln.builder.stage;

import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.Elapsed;
import dev.kiln.builder.rootfs.InPlaceRoot;
import dev.kiln.builder.rootfs.RootfsMaterializer;
import dev.kiln.builder.snapshot.Snapshotter;
import dev.kiln.builder.snapshot.Snapshotters;
import dev.kiln.builder.snapshot.TreeScanner;
import dev.kiln.builder.steps.BuildSession;
import dev.kiln.builder.steps.StageContext;
import dev.kiln.builder.steps.StageRoots;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.registry.client.PulledImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The stages' root filesystems: made real only when a step needs the files (a stage whose steps
 * all come from the cache never does), each with a snapshotter that starts from that state; and
 * the files of other stages and images that {@code --from} reads. In place, only the stage being
 * built lives in {@code /}; another stage a step reads from is unpacked into the build dir.
 */
final class StageRootfs implements StageRoots {
    private final BuildSession session;
    private final ImagePulls pulls;
    private final RootfsMaterializer materializer;
    private final LayerWriter writer;
    private final Snapshotters.Mode snapshotMode;
    private final boolean logUnpacking;
    /** Stages running concurrently add theirs and read the others'. */
    final Map<Integer, StageContext> built = new ConcurrentHashMap<>();
    private final Map<String, Path> imageRoots = new HashMap<>();
    /** In place: the stage being built, and the one whose files are in {@code /} now. */
    StageContext building;
    private StageContext occupant;

    /**
     * @param snapshotMode  WALK for single-snapshot builds (one walk against the stage's start)
     * @param logUnpacking  say when a rootfs is unpacked (with a layer cache, whether it was is news)
     */
    StageRootfs(BuildSession session, ImagePulls pulls, RootfsMaterializer materializer,
                LayerWriter writer, Snapshotters.Mode snapshotMode, boolean logUnpacking) {
        this.session = session;
        this.pulls = pulls;
        this.materializer = materializer;
        this.writer = writer;
        this.snapshotMode = snapshotMode;
        this.logUnpacking = logUnpacking;
    }

    /** Where a new stage's files go: {@code /} in place, else a directory of its own. */
    Path newRootfs(int stageIndex) throws IOException {
        InPlaceRoot inPlace = session.inPlace();
        return inPlace != null ? inPlace.root() : Files.createDirectory(session.buildDir().resolve("stage-" + stageIndex));
    }

    /**
     * Makes the stage's rootfs real: its base's files, then every pending layer, then a snapshot
     * baseline. A built stage may be asked for by several stages at once (COPY --from, FROM).
     */
    void materialize(StageContext s) throws IOException {
        synchronized (s) {
            materializeLocked(s);
        }
    }

    private void materializeLocked(StageContext s) throws IOException {
        if (s.materialized()) {
            return;
        }
        long t0 = System.nanoTime();
        if (session.inPlace() != null) {
            materializeInPlace(s);
            if (logUnpacking || occupant == s) {
                session.info("[" + s.label() + "] unpacked the root filesystem "
                        + (occupant == s ? "over /" : "into the build dir") + " (" + Elapsed.since(t0) + ")");
            }
            return;
        }
        Path parent = null;
        if (s.parent() != null) {
            materialize(s.parent());
            parent = s.parent().rootfs();
        }
        if (parent == null) {
            materializer.stack(s.rootfs(), s.pending(), s.config().diffIds());
        } else {
            materializer.materialize(s.rootfs(), parent, s.pending());
        }
        s.pending().clear();
        s.snapshotter(startSnapshotter(s.rootfs()));
        s.materialized(true);
        if (logUnpacking) {
            session.info("[" + s.label() + "] unpacked the root filesystem (" + Elapsed.since(t0) + ")");
        }
    }

    /**
     * In place, taking over {@code /} wipes the previous stage's files and unpacks all of this
     * stage's layers (its base's, an earlier stage's when it starts FROM one, and the cached ones).
     */
    private void materializeInPlace(StageContext s) throws IOException {
        if (s != building) {
            s.rootfs(Files.createDirectories(session.buildDir().resolve("stage-" + s.stage().index())));
            materializer.materialize(s.rootfs(), null, s.layers());
            s.pending().clear();
            s.materialized(true);
            return;
        }
        if (occupant != null) {
            occupant.materialized(false);
            occupant.snapshotter(null);
        }
        occupant = s;
        session.inPlace().wipe();
        s.rootfs(session.inPlace().root());
        materializer.materialize(s.rootfs(), null, s.layers());
        s.pending().clear();
        s.snapshotter(startSnapshotter(s.rootfs()));
        s.materialized(true);
    }

    /** A cached layer joins a stage whose files are there already: unpacked on top, and a new snapshot baseline. */
    void addLayer(StageContext s, PulledImage.Blob layer) throws IOException {
        materializer.materialize(s.rootfs(), null, List.of(layer));
        s.snapshotter(startSnapshotter(s.rootfs()));
    }

    /** {@code --cleanup}: the last stage's files go, so the container is as it was (but for its ignored paths). */
    void cleanUp() throws IOException {
        if (occupant != null) {
            session.inPlace().wipe();
            occupant = null;
            session.info("cleaned up /");
        }
    }

    private Snapshotter startSnapshotter(Path rootfs) throws IOException {
        // overlay snapshots are per RUN, and never of / itself (in place, RUN runs on the container's root)
        boolean inPlaceRoot = session.isInPlaceRoot(rootfs);
        Snapshotters.Mode mode = inPlaceRoot ? Snapshotters.Mode.WALK : snapshotMode;
        return Snapshotters.startingNow(mode, rootfs, scanner(inPlaceRoot), writer,
                w -> session.event(dev.kiln.builder.exec.BuildEvent.Message.warn(w)),
                upper -> materializer.stackOnTop(rootfs, upper));
    }

    private TreeScanner scanner(boolean inPlaceRoot) {
        if (!inPlaceRoot) {
            return TreeScanner.withDefaults();
        }
        Set<String> ignored = new HashSet<>(TreeScanner.DEFAULT_IGNORED);
        ignored.addAll(session.inPlace().ignored().paths());
        return new TreeScanner(ignored);
    }

    @Override
    public Path rootfs(String from) throws BuildException {
        for (StageContext st : built.values()) {
            if (names(st, from)) {
                try {
                    materialize(st);
                } catch (IOException e) {
                    throw new BuildException("--from=" + from + ": " + e.getMessage(), e);
                }
                return st.rootfs();
            }
        }
        synchronized (imageRoots) {
            return imageRoot(from);
        }
    }

    private Path imageRoot(String from) throws BuildException {
        Path root = imageRoots.get(from);
        if (root == null) {
            try {
                root = Files.createDirectory(session.buildDir().resolve("image-" + imageRoots.size()));
                PulledImage image = pulls.pull(from, "");
                materializer.stack(root, image.layers(), image.config().diffIds());
            } catch (IOException e) {
                throw new BuildException("--from=" + from + ": " + e.getMessage(), e);
            }
            imageRoots.put(from, root);
        }
        return root;
    }

    @Override
    public boolean incomplete(String from) {
        return built.values().stream().anyMatch(st -> !st.complete() && names(st, from));
    }

    private static boolean names(StageContext st, String from) {
        return from.equalsIgnoreCase(st.stage().name()) || from.equals(Integer.toString(st.stage().index()));
    }
}
