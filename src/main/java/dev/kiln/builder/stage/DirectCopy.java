package dev.kiln.builder.stage;

import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.layers.BuildLayers;
import dev.kiln.builder.layers.KeptStack;
import dev.kiln.builder.rootfs.RootfsMaterializer;
import dev.kiln.builder.rootfs.Trees;
import dev.kiln.builder.snapshot.TreeScanner;
import dev.kiln.builder.snapshot.WalkingSnapshotter;
import dev.kiln.builder.steps.BuildSession;
import dev.kiln.builder.steps.BuildStep;
import dev.kiln.builder.steps.StageContext;
import dev.kiln.oci.layer.LayerPaths;
import dev.kiln.oci.layer.LayerWriter;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * COPY and ADD without the stage's root filesystem, where what they write does not depend on
 * what lies below but for the destination's chain of directories. The step runs on a scratch
 * root holding only that chain, each directory made as the stage's kept layers show it (owner,
 * mode, mtime, xattrs); the walk over the scratch then finds what a walk over the whole rootfs
 * would (the new paths and the directories they went into) and the same parents with the same
 * metadata, so the layer is the same, byte for byte. Afterwards every path the step wrote is
 * looked up in the kept layers: if one was there already (the step replaced or merged into
 * something), the scratch is thrown away and the step runs again on the real rootfs. The layer
 * joins the stage's pending layers, unpacked only when a later step needs the files. A layer
 * below that the store does not keep unpacked (a cached RUN layer) is looked at through its
 * listing, never unpacked for this: the COPY costs what its own files cost, whatever lies below.
 */
final class DirectCopy {
    /** {@code KILN_DIRECT_COPY=off} makes every COPY unpack the rootfs first, to compare both (bench/layer-store.sh). */
    private static final boolean OFF = "off".equalsIgnoreCase(System.getenv("KILN_DIRECT_COPY"));

    private final BuildSession session;
    private final BuildLayers kept;
    private final RootfsMaterializer.LayerFiles files;
    private final LayerWriter writer;
    private final java.util.concurrent.atomic.AtomicInteger made = new java.util.concurrent.atomic.AtomicInteger();

    DirectCopy(BuildSession session, BuildLayers kept, RootfsMaterializer.LayerFiles files, LayerWriter writer) {
        this.session = session;
        this.kept = kept;
        this.files = files;
        this.writer = writer;
    }

    /** A stage pointed at a scratch root while one step writes there. */
    record Scratch(Path original, Path dir, KeptStack below, Set<String> chain) {
    }

    /**
     * Runs {@code step} on a scratch root and leaves the stage pointed there, with a snapshotter
     * starting from the chain, for the caller to snapshot and then {@link #leave}; null (nothing
     * run, the stage as it was) when the step needs the whole rootfs: the stage's files are there
     * already, it starts from another stage or builds in place, its layers are not kept, the
     * destination goes through something that is not a directory, or the step wrote over a path
     * the layers have.
     */
    Scratch run(StageContext s, BuildStep step) throws IOException, BuildException {
        if (OFF || s.materialized() || s.parent() != null || session.inPlace() != null || kept == null) {
            return null;
        }
        String destination = step.independentDestination(s);
        if (destination == null) {
            return null;
        }
        String clean;
        try {
            clean = LayerPaths.clean(destination);
        } catch (IllegalArgumentException e) {
            return null; // climbs above the root: RootfsPath's rules apply
        }
        KeptStack below = null;
        if (!s.pending().isEmpty()) {
            below = kept.lease(s.pending(), s.config().diffIds(), files::fileOf).orElse(null);
            if (below == null) {
                return null;
            }
        }
        Path dir = Files.createDirectory(session.buildDir().resolve("direct-" + s.stage().index() + "-" + made.incrementAndGet()));
        Set<String> chain = chain(clean, below, dir);
        if (chain == null) {
            Trees.deleteTree(dir);
            return null;
        }
        Scratch scratch = new Scratch(s.rootfs(), dir, below, chain);
        s.rootfs(dir);
        s.snapshotter(WalkingSnapshotter.startingNow(dir, TreeScanner.withDefaults(), writer,
                w -> session.event(BuildEvent.Message.warn(w))));
        boolean good = false;
        try {
            step.apply(s);
            good = wroteOnlyNewPaths(scratch, "");
        } catch (IOException e) {
            // the real rootfs decides: it may not fail there, or fail with its own words
            session.event(BuildEvent.Message.debug("[" + s.label() + "] writing the layer on its own: " + e.getMessage()));
        } finally {
            if (!good) {
                s.rootfs(scratch.original());
                s.snapshotter(null);
                Trees.deleteTree(dir);
            }
        }
        if (good) {
            session.event(BuildEvent.Message.debug("[" + s.label() + "] wrote the layer without the root filesystem"));
        }
        return good ? scratch : null;
    }

    /** The stage back on its own rootfs (still not made); the layer just taken waits with the others. */
    void leave(StageContext s, Scratch scratch) throws IOException {
        s.rootfs(scratch.original());
        s.snapshotter(null);
        s.pending().add(s.layers().get(s.layers().size() - 1));
        Trees.deleteTree(scratch.dir());
    }

    /**
     * Makes the destination's directories that the layers have, top first, in {@code dir}; their
     * metadata last and deepest first, since making a child changes its parent's mtime. Null when a
     * component is not a directory below (a symlink the copy would follow, a file).
     */
    private static Set<String> chain(String destination, KeptStack below, Path dir) throws IOException {
        Set<String> chain = new HashSet<>();
        if (destination.isEmpty() || below == null) {
            return chain;
        }
        List<KeptStack.Found> sources = new ArrayList<>();
        List<Path> targets = new ArrayList<>();
        String rel = "";
        for (String part : destination.split("/")) {
            rel = LayerPaths.child(rel, part);
            KeptStack.Found found = below.find(rel);
            if (found.conflict()) {
                return null;
            }
            if (!found.isDirectory()) {
                break;
            }
            targets.add(Files.createDirectory(dir.resolve(rel)));
            sources.add(found);
            chain.add(rel);
        }
        for (int i = targets.size() - 1; i >= 0; i--) {
            sources.get(i).applyTo(targets.get(i));
        }
        return chain;
    }

    /** Whether every path the step made below {@code rel} is new to the stack (the chain excepted). */
    private static boolean wroteOnlyNewPaths(Scratch scratch, String rel) throws IOException {
        try (DirectoryStream<Path> children = Files.newDirectoryStream(scratch.dir().resolve(rel))) {
            for (Path child : children) {
                String childRel = LayerPaths.child(rel, child.getFileName().toString());
                if (scratch.chain().contains(childRel)) {
                    if (!Files.isDirectory(child, LinkOption.NOFOLLOW_LINKS) || !wroteOnlyNewPaths(scratch, childRel)) {
                        return false;
                    }
                } else if (scratch.below() != null && scratch.below().find(childRel).exists()) {
                    return false;
                }
            }
        }
        return true;
    }
}
