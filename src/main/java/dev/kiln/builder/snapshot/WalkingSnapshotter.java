package dev.kiln.builder.snapshot;

import dev.kiln.builder.sandbox.ExecResult;
import dev.kiln.builder.sandbox.RunSpec;
import dev.kiln.builder.sandbox.Sandbox;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.WrittenLayer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Finds changes by walking the rootfs and comparing stats with the previous walk. The cost is
 * one {@code lstat} per path plus reading the files that go into the layer; unchanged files are
 * read only when their previous stat was racy (see {@link TreeScanner}).
 */
public final class WalkingSnapshotter implements Snapshotter {
    private final Path rootfs;
    private final TreeScanner scanner;
    private final LayerWriter writer;
    private final Consumer<String> warnings;
    private FileSnapshot previous;
    /** Directories a RUN's sandbox made mount points in and set back, since the last snapshot. */
    private final Set<String> restoredDirs = ConcurrentHashMap.newKeySet();

    public WalkingSnapshotter(Path rootfs, TreeScanner scanner, LayerWriter writer, FileSnapshot baseline, Consumer<String> warnings) {
        this.rootfs = Objects.requireNonNull(rootfs);
        this.scanner = Objects.requireNonNull(scanner);
        this.writer = Objects.requireNonNull(writer);
        this.previous = Objects.requireNonNull(baseline);
        this.warnings = Objects.requireNonNull(warnings);
    }

    /** Starts from the rootfs as it is now (for instance right after the base layers were unpacked). */
    public static WalkingSnapshotter startingNow(Path rootfs, TreeScanner scanner, LayerWriter writer, Consumer<String> warnings) throws IOException {
        return new WalkingSnapshotter(rootfs, scanner, writer, scanner.scan(rootfs), warnings);
    }

    /** The snapshot the next call compares against. */
    public FileSnapshot previous() {
        return previous;
    }

    @Override
    public SnapshotLayer snapshot(OutputStream out) throws IOException {
        Taken taken = take(previous, out);
        previous = taken.snapshot();
        restoredDirs.clear();
        return taken.layer();
    }

    @Override
    public ExecResult run(Sandbox sandbox, RunSpec spec) throws IOException, InterruptedException {
        return sandbox.run(spec.withRestoredDirs(dir -> restoredDirs.add(dir.substring(1))));
    }

    /** The functional core: compare {@code before} with the rootfs now, write the layer, return both. */
    public Taken take(FileSnapshot before, OutputStream out) throws IOException {
        FileSnapshot after = scanner.scan(rootfs);
        ChangeSet changes = diff(before, after);
        List<LayerEntry> entries = ChangeSetLayer.entries(changes, after, rootfs, warnings);
        WrittenLayer layer = writer.write(entries, out);
        return new Taken(new SnapshotLayer(changes, layer), after);
    }

    /**
     * The change set between two snapshots of this rootfs; reads only racy files' content. A
     * directory the sandbox made mount points in and set back differs in ctime only: that alone
     * is not a change (anything else about it, or a new or changed entry below it, still is).
     */
    public ChangeSet diff(FileSnapshot before, FileSnapshot after) throws IOException {
        if (!restoredDirs.isEmpty()) {
            Map<String, FileStat> entries = new HashMap<>(before.entries());
            for (String dir : restoredDirs) {
                FileStat then = before.get(dir);
                FileStat now = after.get(dir);
                if (then != null && now != null && then.type() == FileType.DIRECTORY) {
                    entries.put(dir, then.withCtime(now.ctime()));
                }
            }
            before = new FileSnapshot(entries, before.takenAt());
        }
        return SnapshotDiff.compute(before, after,
                (path, then) -> !TreeScanner.hash(rootfs.resolve(path)).equals(then.contentHash()));
    }

    public record Taken(SnapshotLayer layer, FileSnapshot snapshot) {
    }
}
