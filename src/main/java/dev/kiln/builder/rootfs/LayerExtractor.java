package dev.kiln.builder.rootfs;

import dev.kiln.oci.layer.EntryType;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerPaths;
import dev.kiln.oci.layer.LayerReader;
import dev.kiln.oci.layer.Whiteouts;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Applies layers onto a root filesystem directory, as the layers of an image stack: regular
 * files (streamed), directories, symlinks (stored verbatim), hardlinks, devices and fifos,
 * modes, owners, mtimes and {@code user.*} xattrs; whiteouts delete what lower layers put there.
 *
 * <p>Every name is applied inside the rootfs as in a chroot ({@link RootfsPath}): a leading
 * {@code /} is ignored, a name whose {@code ..} climbs above the root is rejected, symlinks met in
 * parent components are followed but can never lead out, the entry itself is never followed
 * (an existing symlink at its name is replaced, not written through), and a hardlink can only
 * point at a file inside the rootfs.
 *
 * <p>Device nodes are never made: each becomes a {@link DevicePlaceholder} that the snapshot
 * turns back into the device entry. Without root privileges, owners are left as the extracting
 * user; fifos need no privilege and are always made.
 *
 * <p>{@link #ignoring} makes an extractor for an in-place build, whose rootfs is the container's
 * own {@code /}: entries at or below an ignored path (or that reach one through a symlink) are
 * left out, and deleting (a replaced directory, a whiteout, an opaque directory) spares them.
 */
public final class LayerExtractor {
    private static final System.Logger LOG = System.getLogger(LayerExtractor.class.getName());

    private final Path root;
    private final boolean privileged;
    private final Consumer<String> warningSink;
    private final IgnoredPaths ignored;
    private final long maxBytes;
    /** Non-null for {@link #forLayerDir}: whiteouts are kept as overlayfs markers and listed here. */
    private final LayerDirIndex index;

    /**
     * @param privileged  whether to chown and mknod, which only root may do
     * @param warningSink receives a line for everything skipped or approximated
     */
    public LayerExtractor(Path rootfs, boolean privileged, Consumer<String> warningSink) {
        this(rootfs, privileged, warningSink, IgnoredPaths.NONE, Long.MAX_VALUE, null);
    }

    private LayerExtractor(Path rootfs, boolean privileged, Consumer<String> warningSink, IgnoredPaths ignored,
                           long maxBytes, LayerDirIndex index) {
        this.maxBytes = maxBytes;
        this.index = index;
        this.root = Objects.requireNonNull(rootfs);
        this.privileged = privileged;
        this.warningSink = Objects.requireNonNull(warningSink);
        this.ignored = Objects.requireNonNull(ignored);
    }

    /** This extractor, leaving {@code ignored} paths of the rootfs untouched. */
    public LayerExtractor ignoring(IgnoredPaths ignored) {
        return new LayerExtractor(root, privileged, warningSink, ignored, maxBytes, index);
    }

    /**
     * This extractor, refusing an archive whose files add up to more than {@code maxBytes} (each
     * entry counts its tar header too, so a flood of empty files is stopped as well). The sizes
     * are the headers', checked before the content is written: a small gzip that expands to
     * gigabytes is refused at the entry that crosses the limit.
     */
    public LayerExtractor limited(long maxBytes) {
        return new LayerExtractor(root, privileged, warningSink, ignored, maxBytes, index);
    }

    /** The message of an archive refused by {@link #limited}. */
    public static final String TOO_LARGE = "unpacks to more than %d bytes, the limit";

    /** Privileged when running as root; warnings go to the system logger. */
    public static LayerExtractor forRootfs(Path rootfs) {
        return new LayerExtractor(rootfs, Trees.runningAsRoot(), w -> LOG.log(System.Logger.Level.WARNING, w));
    }

    /**
     * An extractor that unpacks one layer on its own into an empty directory, to be stacked later
     * (as an overlayfs lower directory or by {@link LayerDirIndex#applyTo}): whiteouts and opaque
     * markers delete nothing but become overlayfs's own markers ({@link OverlayMarkers}). They, and
     * the directories the layer uses without listing them, are recorded in {@code index}.
     */
    public static LayerExtractor forLayerDir(Path dir, LayerDirIndex index, Consumer<String> warningSink) {
        return new LayerExtractor(dir, Trees.runningAsRoot(), warningSink, IgnoredPaths.NONE, Long.MAX_VALUE,
                Objects.requireNonNull(index));
    }

    /** Applies one layer (gzip, zstd or plain tar); consumes and closes {@code layer}. */
    public Extraction apply(InputStream layer) throws IOException {
        Run run = new Run(RootfsPath.of(root));
        try (LayerReader reader = LayerReader.open(layer)) {
            long unpacked = 0;
            for (LayerEntry entry; (entry = reader.next()) != null; ) {
                run.entries++;
                unpacked += 512 + entry.size();
                if (unpacked > maxBytes) {
                    throw new LayerExtractionException(entry.path(), String.format(TOO_LARGE, maxBytes));
                }
                try {
                    run.apply(entry, reader);
                } catch (LayerExtractionException e) {
                    throw e;
                } catch (IOException | RuntimeException e) {
                    throw new LayerExtractionException(entry.path(), e.toString(), e);
                }
            }
        }
        if (run.markers != null) {
            run.markers.finish(run::makeParents);
        }
        run.finishDirectories();
        return new Extraction(run.entries, run.whiteouts, run.skipped, run.warnings);
    }

    public Extraction apply(Path layer) throws IOException {
        return apply(Files.newInputStream(layer));
    }

    /** The state of applying one layer. */
    private final class Run {
        private final RootfsPath rootfs;
        /** Host paths this layer created: its own whiteouts and opaque markers leave them alone. */
        private final Set<Path> added = new HashSet<>();
        /**
         * Directory modes and times are set last: writing children changes a directory's mtime,
         * and a read-only directory would stop an unprivileged extractor adding its children.
         */
        private final List<Deferred> directories = new ArrayList<>();
        private final List<String> warnings = new ArrayList<>();
        /** Non-null in {@link #forLayerDir} mode. */
        private final OverlayMarkers markers;
        private final EntryAttributes meta = new EntryAttributes(privileged, index != null);
        private int entries;
        private int whiteouts;
        private int skipped;

        Run(RootfsPath rootfs) {
            this.rootfs = rootfs;
            this.markers = index == null ? null : new OverlayMarkers(rootfs, index);
        }

        void apply(LayerEntry entry, LayerReader reader) throws IOException {
            String name = entry.path();
            String rel;
            try {
                rel = LayerPaths.clean(name);
            } catch (IllegalArgumentException e) {
                throw new LayerExtractionException(name, "'..' climbs above the rootfs; refusing to write outside it");
            }
            if (rel.isEmpty()) {
                if (entry.type() != EntryType.DIRECTORY) {
                    throw new LayerExtractionException(name, "names the rootfs root but is a " + entry.type());
                }
                meta.owner(rootfs.root(), entry);
                directories.add(new Deferred(rootfs.root(), entry));
                if (index != null) {
                    index.rootListed();
                }
                return;
            }
            String parent = LayerPaths.parent(rel);
            String base = LayerPaths.baseName(rel);
            if (entry.type() == EntryType.FILE && Whiteouts.isOpaque(base)) {
                opaque(name, parent);
                return;
            }
            if (entry.type() == EntryType.FILE && Whiteouts.isWhiteout(base)) {
                whiteout(name, parent, Whiteouts.deletedName(base));
                return;
            }
            if (ignored.covers(rel)) {
                return;
            }
            Path target = rootfs.resolveNoFollow(rel);
            if (isIgnored(target)) {
                return;
            }
            makeParents(name, target.getParent());
            BasicFileAttributes existing = Trees.lstat(target);
            boolean keptDirectory = entry.type() == EntryType.DIRECTORY && existing != null && existing.isDirectory();
            // a hardlink checks its target first: replacing a file by a link to itself must keep it;
            // a device that cannot be made leaves what is there
            if (!keptDirectory && entry.type() != EntryType.HARDLINK) {
                if (!replace(target, existing)) {
                    warn(name + ": skipped: " + rootfs.inside(target) + " holds paths an in-place build keeps ("
                            + ignored + ")");
                    skipped++;
                    return;
                }
                existing = null;
            }
            switch (entry.type()) {
                case DIRECTORY -> {
                    if (existing == null) {
                        Files.createDirectory(target);
                    }
                    meta.owner(target, entry);
                    skipped += meta.xattrs(target, entry, this::warn);
                    directories.add(new Deferred(target, entry));
                }
                case FILE -> {
                    try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW,
                            StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS); InputStream in = reader.content()) {
                        in.transferTo(out);
                    }
                    meta.owner(target, entry);
                    skipped += meta.xattrs(target, entry, this::warn);
                    meta.time(target, entry);
                    meta.mode(target, entry);
                }
                case SYMLINK -> {
                    // stored verbatim: the target is text, resolved only when something follows it
                    Files.createSymbolicLink(target, target.getFileSystem().getPath(entry.linkTarget()));
                    meta.owner(target, entry);
                    meta.time(target, entry);
                }
                case HARDLINK -> hardlink(name, entry, target, existing);
                case CHAR_DEVICE, BLOCK_DEVICE, FIFO -> SpecialFiles.make(target, entry, meta);
            }
            added.add(target);
        }

        private void hardlink(String name, LayerEntry entry, Path target, BasicFileAttributes existing) throws IOException {
            String linkRel;
            try {
                linkRel = LayerPaths.clean(entry.linkTarget());
            } catch (IllegalArgumentException e) {
                throw new LayerExtractionException(name, "hardlink to '" + entry.linkTarget() + "' points outside the rootfs");
            }
            if (linkRel.isEmpty()) {
                throw new LayerExtractionException(name, "hardlink to the rootfs root");
            }
            Path source = rootfs.resolveNoFollow(linkRel);
            BasicFileAttributes sourceAttributes = Trees.lstat(source);
            if (sourceAttributes == null) {
                throw new LayerExtractionException(name, "hardlink target '" + entry.linkTarget() + "' does not exist in the rootfs");
            }
            if (sourceAttributes.isDirectory()) {
                throw new LayerExtractionException(name, "hardlink target '" + entry.linkTarget() + "' is a directory");
            }
            if (isIgnored(source)) {
                warn(name + ": skipped: hardlink to '" + entry.linkTarget() + "', which an in-place build keeps out of the image");
                skipped++;
                return;
            }
            if (source.equals(target)) {
                return;
            }
            if (!replace(target, existing)) {
                warn(name + ": skipped: " + rootfs.inside(target) + " holds paths an in-place build keeps");
                skipped++;
                return;
            }
            Files.createLink(target, source);
        }

        /**
         * Deletes what is in the way; a directory goes with everything in it.
         *
         * @return false when ignored paths below it had to stay, so the entry has no place
         */
        private boolean replace(Path target, BasicFileAttributes existing) throws IOException {
            return existing == null || delete(target);
        }

        /** Deletes a tree, sparing ignored paths; true when nothing is left. */
        private boolean delete(Path target) throws IOException {
            if (ignored.isEmpty()) {
                Trees.deleteTree(target);
                return true;
            }
            return Trees.deleteTreeKeeping(target, this::isIgnored);
        }

        /** Whether a host path inside the rootfs is, or is below, an ignored path. */
        private boolean isIgnored(Path host) {
            return !ignored.isEmpty() && ignored.covers(LayerPaths.clean(rootfs.inside(host)));
        }

        /**
         * Creates missing parents. The parent was resolved inside the rootfs, so its existing part
         * is a real directory and only plain new directories are made below it.
         */
        void makeParents(String name, Path dir) throws IOException {
            BasicFileAttributes attributes = Trees.lstat(dir);
            if (attributes != null) {
                if (!attributes.isDirectory()) {
                    throw new LayerExtractionException(name, "parent " + rootfs.inside(dir) + " is not a directory");
                }
                return;
            }
            makeParents(name, dir.getParent());
            Files.createDirectory(dir);
            added.add(dir);
            if (index != null) {
                index.implicitDirectory(relative(dir));
            }
        }

        private void whiteout(String name, String parent, String deleted) throws IOException {
            if (deleted.isEmpty() || deleted.equals(".") || deleted.equals("..")) {
                throw new LayerExtractionException(name, "whiteout of '" + deleted + "' is not a name");
            }
            whiteouts++;
            Path victim = rootfs.resolveNoFollow(LayerPaths.child(parent, deleted));
            // a whiteout hides lower layers only, never what its own layer adds
            if (markers != null) {
                markers.whiteout(victim);
            } else if (!added.contains(victim)) {
                delete(victim);
            }
        }

        private void opaque(String name, String parent) throws IOException {
            whiteouts++;
            Path dir = rootfs.resolve(parent);
            if (isIgnored(dir)) {
                return;
            }
            BasicFileAttributes attributes = Trees.lstat(dir);
            if (attributes == null) {
                makeParents(name, dir);
                if (markers != null) {
                    markers.opaque(dir);
                }
                return;
            }
            if (!attributes.isDirectory()) {
                throw new LayerExtractionException(name, "opaque marker in " + rootfs.inside(dir) + ", which is not a directory");
            }
            if (markers != null) {
                markers.opaque(dir);
            } else {
                clearLowerContent(dir);
            }
        }

        private String relative(Path host) {
            return LayerPaths.clean(rootfs.inside(host));
        }

        /** Empties a directory of everything but what this layer put there, at any depth. */
        private void clearLowerContent(Path dir) throws IOException {
            List<Path> children = new ArrayList<>();
            try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
                stream.forEach(children::add);
            }
            for (Path child : children) {
                if (!added.contains(child)) {
                    delete(child);
                } else {
                    BasicFileAttributes attributes = Trees.lstat(child);
                    if (attributes != null && attributes.isDirectory()) {
                        clearLowerContent(child);
                    }
                }
            }
        }

        void finishDirectories() throws IOException {
            for (int i = directories.size() - 1; i >= 0; i--) {
                Deferred d = directories.get(i);
                BasicFileAttributes attributes = Trees.lstat(d.path());
                if (attributes == null || !attributes.isDirectory()) {
                    continue; // a later entry of the layer replaced it
                }
                meta.time(d.path(), d.entry());
                meta.mode(d.path(), d.entry());
            }
        }

        private void warn(String warning) {
            warnings.add(warning);
            warningSink.accept(warning);
        }
    }

    private record Deferred(Path path, LayerEntry entry) {
    }
}
