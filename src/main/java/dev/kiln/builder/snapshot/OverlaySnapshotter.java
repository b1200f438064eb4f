package dev.kiln.builder.snapshot;

import dev.kiln.builder.rootfs.Trees;
import dev.kiln.builder.sandbox.ExecResult;
import dev.kiln.builder.sandbox.RunSpec;
import dev.kiln.builder.sandbox.Sandbox;
import dev.kiln.builder.sandbox.SandboxException;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerPaths;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.WrittenLayer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Snapshots a RUN by its overlay: the command runs on an overlay of the rootfs (see {@link
 * RunSpec#overlay()}), so the upper directory holds exactly what it changed, and the snapshot
 * costs what changed, not what the image holds. The upper directory is then turned into the same
 * {@link ChangeSet} the {@link WalkingSnapshotter} would find (stat before and after for only the
 * touched paths, the same {@link SnapshotDiff}) and applied to the rootfs, which stays the one
 * source of truth for the next step.
 *
 * <p>Every other change (COPY, ADD and WORKDIR write the rootfs from Java, and a RUN through a
 * sandbox that cannot mount an overlay) is found by a walk against a baseline, a stat map of the
 * whole rootfs, as the {@link WalkingSnapshotter} does. The baseline is taken only when the first
 * such change is announced ({@link #beforeDirectChange}), and from then on kept current with what
 * each overlay snapshot touched, so a stage whose steps are all RUNs never walks its rootfs.
 *
 * <p>A RUN that changes a file with other hardlinks in the rootfs makes overlayfs copy up that one
 * name (Docker's overlay2 driver leaves it so). Here the new content is written into the shared inode
 * instead, so every name sees it, as on the rootfs itself and in BuildKit; that step is then
 * snapshotted by a walk, which finds all the names.
 */
public final class OverlaySnapshotter implements Snapshotter {
    private final Path rootfs;
    private final TreeScanner scanner;
    private final LayerWriter writer;
    private final Consumer<String> warnings;
    private final boolean required;
    private final WalkingSnapshotter walker;
    /** Null until the first direct change needs it. */
    private FileSnapshot baseline;
    /** Overlay snapshots taken since the baseline was last brought up to date. */
    private final List<Touched> unappliedToBaseline = new ArrayList<>();
    private Path pendingScratch;
    private RunSpec.Overlay pending;
    private UpperStacking stacking = UpperStacking.NONE;
    /** The pending upper directory became part of the rootfs: only its work directory is deleted. */
    private boolean pendingStacked;

    /**
     * @param required refuse to run a RUN other than on an overlay ({@code --snapshot-mode=overlay})
     *                 instead of falling back to a walk
     */
    OverlaySnapshotter(Path rootfs, TreeScanner scanner, LayerWriter writer, FileSnapshot baseline,
                       Consumer<String> warnings, boolean required) {
        // the walker's own baseline is never used: every walk passes the current one to take()
        this.rootfs = Objects.requireNonNull(rootfs);
        this.scanner = Objects.requireNonNull(scanner);
        this.writer = Objects.requireNonNull(writer);
        this.warnings = Objects.requireNonNull(warnings);
        this.baseline = baseline;
        this.required = required;
        this.walker = new WalkingSnapshotter(rootfs, scanner, writer, FileSnapshot.empty(), warnings);
    }

    /**
     * Starts from the rootfs as it is now. Nothing is read yet: until a direct change is announced,
     * the rootfs changes only through overlay snapshots, which know what they changed.
     */
    public static OverlaySnapshotter startingNow(Path rootfs, TreeScanner scanner, LayerWriter writer,
                                                 Consumer<String> warnings, boolean required) {
        return new OverlaySnapshotter(rootfs, scanner, writer, null, warnings, required);
    }

    /** Lets RUNs' upper directories become layers of a rootfs that is an overlay mount, instead of being copied in. */
    OverlaySnapshotter stacking(UpperStacking stacking) {
        this.stacking = Objects.requireNonNull(stacking);
        return this;
    }

    @Override
    public void beforeDirectChange() throws IOException {
        if (pending != null) {
            throw new IllegalStateException("the previous RUN on " + rootfs + " has not been snapshotted yet");
        }
        if (baseline == null) {
            baseline = scanner.scan(rootfs);
        }
    }

    /** Whether a walk's baseline has been taken; for tests. */
    boolean hasBaseline() {
        return baseline != null;
    }

    /**
     * Runs the command on an overlay of the rootfs when the sandbox can mount one here, else on
     * the rootfs itself (the next snapshot then walks). The upper and work directories go next to
     * the rootfs, on its filesystem unless the rootfs is a mount of its own, so applying the change
     * is a rename (a copy onto an overlay mount of kept layers).
     */
    @Override
    public ExecResult run(Sandbox sandbox, RunSpec spec) throws IOException, InterruptedException {
        if (pending != null) {
            throw new IllegalStateException("the previous RUN on " + rootfs + " has not been snapshotted yet");
        }
        Path parent = rootfs.toAbsolutePath().getParent();
        // a rootfs on another filesystem than its parent is an overlay mount of kept layers: the RUN's
        // overlay stacks on it, and its upper directory is copied in instead of renamed
        boolean overlay = spec.rootfs().equals(rootfs) && parent != null && sandbox.overlayWorks(rootfs, parent);
        if (!overlay) {
            if (required) {
                throw new SandboxException("--snapshot-mode=overlay: the " + sandbox.name()
                        + " sandbox cannot run this RUN on an overlayfs mount of " + rootfs
                        + " (kernel, filesystem or sandbox does not allow it); use --snapshot-mode=auto");
            }
            beforeDirectChange();
            return sandbox.run(spec);
        }
        Path scratch;
        try {
            scratch = Files.createTempDirectory(parent, ".kiln-overlay-");
        } catch (IOException e) {
            if (required) {
                throw new SandboxException("--snapshot-mode=overlay: cannot make the overlay's directories next to "
                        + rootfs + ": " + e.getMessage(), e);
            }
            beforeDirectChange();
            return sandbox.run(spec);
        }
        pendingScratch = scratch;
        pending = new RunSpec.Overlay(Files.createDirectory(scratch.resolve("upper")),
                Files.createDirectory(scratch.resolve("work")));
        copyRootMetadata(rootfs, pending.upper());
        return sandbox.run(spec.withOverlay(pending));
    }

    @Override
    public SnapshotLayer snapshot(OutputStream out) throws IOException {
        if (pending == null) {
            if (baseline == null) {
                throw new IllegalStateException("snapshot of " + rootfs + " without a RUN or an announced direct change");
            }
            WalkingSnapshotter.Taken taken = walker.take(baseline(), out);
            baseline = taken.snapshot();
            return taken.layer();
        }
        try {
            return snapshotUpper(pending.upper(), out);
        } finally {
            Trees.deleteQuietly(pendingStacked ? pending.work() : pendingScratch);
            pending = null;
            pendingScratch = null;
            pendingStacked = false;
        }
    }

    private SnapshotLayer snapshotUpper(Path upper, OutputStream out) throws IOException {
        OverlayUpper.Contents contents = OverlayUpper.read(upper);
        Set<String> touched = new HashSet<>(contents.present());
        touched.addAll(contents.whiteouts());
        Map<String, FileStat> before = scanner.statPaths(rootfs, touched);
        // a directory that lost entries: all its old entries take part, as the walk's opaque rule needs
        Set<String> siblings = new HashSet<>();
        for (String dir : contents.emptiedDirs()) {
            FileStat stat = before.get(dir);
            if (dir.isEmpty() || stat != null && stat.type() == FileType.DIRECTORY) {
                for (String name : names(dir.isEmpty() ? rootfs : rootfs.resolve(dir))) {
                    siblings.add(LayerPaths.child(dir, name));
                }
            }
        }
        siblings.removeAll(touched);
        before.putAll(scanner.statPaths(rootfs, siblings));
        touched.addAll(siblings);

        List<String> sharedInodes = new ArrayList<>();
        for (String path : contents.present()) {
            FileStat old = before.get(path);
            if (old != null && old.type() == FileType.REGULAR && old.nlink() > 1
                    && Files.isRegularFile(upper.resolve(path), LinkOption.NOFOLLOW_LINKS)) {
                sharedInodes.add(path);
            }
        }
        if (!sharedInodes.isEmpty()) {
            return snapshotSharedInodes(upper, sharedInodes, out);
        }

        if (stackable(contents, before) && stacking.stack(upper)) {
            pendingStacked = true;
        } else {
            OverlayUpper.applyTo(upper, rootfs);
            copyRootMetadata(upper, rootfs);
        }

        // content hashes for racy files only when a baseline will take these stats over
        FileSnapshot after = baseline != null ? scanner.scanPaths(rootfs, touched)
                : new FileSnapshot(scanner.statPaths(rootfs, touched), Instant.now());
        FileSnapshot beforeSnapshot = new FileSnapshot(before, after.takenAt());
        ChangeSet changes = walker.diff(beforeSnapshot, after);
        List<LayerEntry> entries = ChangeSetLayer.entries(changes, after, rootfs, warnings);
        WrittenLayer layer = writer.write(entries, out);
        if (baseline != null) {
            unappliedToBaseline.add(new Touched(beforeSnapshot, after));
        }
        return new SnapshotLayer(changes, layer);
    }

    /**
     * Whether stacking the upper directory shows the next steps what applying it would. Not when a
     * walk's baseline exists: the remount gives the rootfs's directories new stats the baseline does
     * not know. Not when hardlinks take part, in the upper directory or among the touched paths:
     * applied, removing one name of a file changes its other names' ctime (as a walk sees it);
     * stacked, that inode stays a lower layer's and does not change.
     */
    private boolean stackable(OverlayUpper.Contents contents, Map<String, FileStat> before) {
        return baseline == null && contents.linked().isEmpty() && before.values().stream()
                .noneMatch(stat -> stat != null && stat.type() == FileType.REGULAR && stat.nlink() > 1);
    }

    /**
     * The RUN changed files whose inode other names share: the rootfs as it still is gives the walk
     * its baseline, their content goes into the shared inodes, the rest of the upper dir is applied,
     * and a walk finds every name that changed.
     */
    private SnapshotLayer snapshotSharedInodes(Path upper, List<String> sharedInodes, OutputStream out) throws IOException {
        FileSnapshot start = baseline != null ? baseline() : scanner.scan(rootfs);
        for (String path : sharedInodes) {
            Path from = upper.resolve(path);
            Path to = rootfs.resolve(path);
            try (var in = Files.newInputStream(from);
                 var sink = Files.newOutputStream(to, LinkOption.NOFOLLOW_LINKS, java.nio.file.StandardOpenOption.WRITE,
                         java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
                in.transferTo(sink);
            }
            Files.setAttribute(to, "unix:mode", (Integer) Files.getAttribute(from, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777);
            Files.setAttribute(to, "unix:uid", Files.getAttribute(from, "unix:uid", LinkOption.NOFOLLOW_LINKS), LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(to, "unix:gid", Files.getAttribute(from, "unix:gid", LinkOption.NOFOLLOW_LINKS), LinkOption.NOFOLLOW_LINKS);
            Files.setLastModifiedTime(to, Files.getLastModifiedTime(from, LinkOption.NOFOLLOW_LINKS));
            Files.delete(from);
        }
        OverlayUpper.applyTo(upper, rootfs);
        copyRootMetadata(upper, rootfs);
        WalkingSnapshotter.Taken taken = walker.take(start, out);
        baseline = taken.snapshot();
        unappliedToBaseline.clear();
        return taken.layer();
    }

    /**
     * The baseline with what overlay snapshots changed since: every path they saw deleted or
     * turned from a directory into something else goes, with everything below it, then every path
     * they saw afterwards is put in with its new stat.
     */
    private FileSnapshot baseline() {
        if (unappliedToBaseline.isEmpty()) {
            return baseline;
        }
        Map<String, FileStat> entries = new HashMap<>(baseline.entries());
        for (Touched change : unappliedToBaseline) {
            FileSnapshot before = change.before();
            FileSnapshot after = change.after();
            Set<String> gone = new HashSet<>();
            for (Map.Entry<String, FileStat> e : before.entries().entrySet()) {
                FileStat now = after.get(e.getKey());
                if (now == null || e.getValue().type() == FileType.DIRECTORY && now.type() != FileType.DIRECTORY) {
                    gone.add(e.getKey());
                }
            }
            if (!gone.isEmpty()) {
                entries.keySet().removeIf(path -> atOrBelow(path, gone));
            }
            entries.putAll(after.entries());
        }
        unappliedToBaseline.clear();
        baseline = new FileSnapshot(entries, baseline.takenAt());
        return baseline;
    }

    /** The paths one overlay snapshot looked at, as they were before the RUN and after it. */
    private record Touched(FileSnapshot before, FileSnapshot after) {
    }

    private static boolean atOrBelow(String path, Set<String> roots) {
        for (String p = path; !p.isEmpty(); p = LayerPaths.parent(p)) {
            if (roots.contains(p)) {
                return true;
            }
        }
        return false;
    }

    /** The merged root shows the upper directory's own mode and owner, so they mirror the rootfs's (and back). */
    private static void copyRootMetadata(Path from, Path to) throws IOException {
        Map<String, Object> a = Files.readAttributes(from, "unix:mode,uid,gid,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
        Map<String, Object> b = Files.readAttributes(to, "unix:uid,gid", LinkOption.NOFOLLOW_LINKS);
        if (!a.get("uid").equals(b.get("uid")) || !a.get("gid").equals(b.get("gid"))) {
            Files.setAttribute(to, "unix:uid", a.get("uid"), LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(to, "unix:gid", a.get("gid"), LinkOption.NOFOLLOW_LINKS);
        }
        Files.setAttribute(to, "unix:mode", (Integer) a.get("mode") & 07777);
        Files.setLastModifiedTime(to, (FileTime) a.get("lastModifiedTime"));
    }

    private static List<String> names(Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
            for (Path p : stream) {
                names.add(p.getFileName().toString());
            }
        }
        return names;
    }
}
