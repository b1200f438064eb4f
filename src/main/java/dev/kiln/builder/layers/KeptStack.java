package dev.kiln.builder.layers;

import dev.kiln.builder.rootfs.LayerDirIndex;
import dev.kiln.builder.rootfs.LayerDirMerge;
import dev.kiln.builder.rootfs.Trees;
import dev.kiln.oci.layer.LayerPaths;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A stack of kept layers ({@link LayerStore#lease}), leased until closed, that answers what the
 * stacked root filesystem holds at a path without making it: so a step whose result depends only
 * on a few paths below (a COPY into a directory) can look them up instead of unpacking the image.
 */
public final class KeptStack implements AutoCloseable {
    private final LayerStore store;
    private final List<String> keys;
    private final List<Path> layers;
    /** Per layer, bottom first: its listing where the layer is not kept unpacked (its entry in {@link #layers} null). */
    private final List<LayerListing> listings;
    private boolean closed;

    KeptStack(LayerStore store, List<String> keys, List<Path> layers) {
        this(store, keys, layers, Collections.nCopies(layers.size(), null));
    }

    /** @param keys the layers leased (the kept ones); {@code layers} and {@code listings} one of each per layer */
    KeptStack(LayerStore store, List<String> keys, List<Path> layers, List<LayerListing> listings) {
        this.store = store;
        this.keys = List.copyOf(keys);
        this.layers = Collections.unmodifiableList(new ArrayList<>(layers));
        this.listings = Collections.unmodifiableList(new ArrayList<>(listings));
    }

    /**
     * What the stack shows at a path: {@code dir} the kept directory whose metadata it shows there,
     * or {@code listed} that metadata as a layer's listing gives it (both null if no directory is
     * there), {@code conflict} when a component of the path is something other than a directory
     * (a file, a symlink the path would go through) or what it shows cannot be told without
     * unpacking (a directory a listed layer only implies, with none below).
     */
    public record Found(Path dir, LayerListing.Dir listed, boolean conflict) {
        Found(Path dir, boolean conflict) {
            this(dir, null, conflict);
        }

        /** Whether anything is there (or in the way). */
        public boolean exists() {
            return isDirectory() || conflict;
        }

        public boolean isDirectory() {
            return dir != null || listed != null;
        }

        /** Gives {@code target} the directory's owner, user xattrs, mode and mtime. */
        public void applyTo(Path target) throws IOException {
            if (listed != null) {
                listed.applyTo(target);
            } else {
                LayerDirMerge.copyDirectoryMetadata(dir, target);
            }
        }
    }

    private static final Found NOTHING = new Found(null, false);
    private static final Found IN_THE_WAY = new Found(null, true);

    List<String> keys() {
        return keys;
    }

    /** The kept layers' directories, bottom first. */
    List<Path> layers() {
        return layers;
    }

    /** What the whole stack shows at {@code path} (clean, relative, not empty). */
    public Found find(String path) throws IOException {
        return find(path, layers.size());
    }

    /** What the lowest {@code count} layers show at {@code path}. */
    private Found find(String path, int count) throws IOException {
        for (int i = count - 1; i >= 0; i--) {
            LayerListing listing = listings.get(i);
            Found found = listing == null ? findIn(path, layers.get(i)) : findIn(path, listing, i);
            if (found != null) {
                return found;
            }
        }
        return NOTHING;
    }

    /** The directory at {@code path} as the stack {@code below} shows it, top layer first. */
    static Found find(String path, List<Path> below) throws IOException {
        for (int i = below.size() - 1; i >= 0; i--) {
            Found found = findIn(path, below.get(i));
            if (found != null) {
                return found;
            }
        }
        return NOTHING;
    }

    /** What one kept layer decides about {@code path}; null when the layers below decide. */
    private static Found findIn(String path, Path layer) throws IOException {
        String[] parts = path.split("/");
        LayerDirIndex index = LayerDirIndex.read(layer.resolve("index"));
        Path p = layer.resolve("fs");
        String rel = "";
        for (String part : parts) {
            rel = LayerPaths.child(rel, part);
            p = p.resolve(part);
            if (index.whiteouts().contains(rel)) {
                return NOTHING; // deleted here: nothing further down shows
            }
            BasicFileAttributes attributes = Trees.lstat(p);
            if (attributes == null) {
                return null;
            }
            if (!attributes.isDirectory()) {
                return IN_THE_WAY;
            }
            if (index.opaques().contains(rel) && !rel.equals(path)) {
                // below an opaque directory only this layer counts
                Path rest = layer.resolve("fs").resolve(path);
                BasicFileAttributes a = Trees.lstat(rest);
                return a == null ? NOTHING : new Found(a.isDirectory() ? rest : null, !a.isDirectory());
            }
        }
        return new Found(p, false);
    }

    /**
     * The same for a listed layer (the {@code i}th): a directory it only implies has the metadata
     * the layers below show there, as a kept layer's has ({@link LowerMetadata}).
     */
    private Found findIn(String path, LayerListing listing, int i) throws IOException {
        String rel = "";
        for (String part : path.split("/")) {
            rel = LayerPaths.child(rel, part);
            if (listing.whitesOut(rel)) {
                return NOTHING;
            }
            LayerListing.Kind kind = listing.kind(rel);
            if (kind == LayerListing.Kind.ABSENT) {
                return null;
            }
            if (kind == LayerListing.Kind.OTHER) {
                return IN_THE_WAY;
            }
            if (listing.isOpaque(rel) && !rel.equals(path)) {
                return shown(path, listing.kind(path), listing, i);
            }
        }
        return shown(path, listing.kind(path), listing, i);
    }

    private Found shown(String path, LayerListing.Kind kind, LayerListing listing, int i) throws IOException {
        return switch (kind) {
            case ABSENT -> NOTHING;
            case OTHER -> IN_THE_WAY;
            case LISTED_DIR -> new Found(null, listing.dir(path), false);
            case IMPLICIT_DIR -> {
                Found below = find(path, i);
                yield below.isDirectory() ? below : IN_THE_WAY;
            }
        };
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            store.release(new ArrayList<>(keys));
        }
    }
}
