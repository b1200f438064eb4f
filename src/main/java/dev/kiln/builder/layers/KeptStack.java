package dev.kiln.builder.layers;

import dev.kiln.builder.rootfs.LayerDirIndex;
import dev.kiln.builder.rootfs.Trees;
import dev.kiln.oci.layer.LayerPaths;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
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
    private boolean closed;

    KeptStack(LayerStore store, List<String> keys, List<Path> layers) {
        this.store = store;
        this.keys = List.copyOf(keys);
        this.layers = List.copyOf(layers);
    }

    /**
     * What the stack shows at a path: {@code dir} the kept directory whose metadata it shows there
     * (null if none), {@code conflict} when a component of the path is something other than a
     * directory (a file, a symlink the path would go through).
     */
    public record Found(Path dir, boolean conflict) {
        /** Whether anything is there (or in the way). */
        public boolean exists() {
            return dir != null || conflict;
        }
    }

    List<String> keys() {
        return keys;
    }

    /** The kept layers' directories, bottom first. */
    List<Path> layers() {
        return layers;
    }

    /** What the whole stack shows at {@code path} (clean, relative, not empty). */
    public Found find(String path) throws IOException {
        return find(path, layers);
    }

    /** The directory at {@code path} as the stack {@code below} shows it, top layer first. */
    static Found find(String path, List<Path> below) throws IOException {
        String[] parts = path.split("/");
        for (int i = below.size() - 1; i >= 0; i--) {
            Path layer = below.get(i);
            LayerDirIndex index = LayerDirIndex.read(layer.resolve("index"));
            Path p = layer.resolve("fs");
            String rel = "";
            boolean missing = false;
            for (String part : parts) {
                rel = LayerPaths.child(rel, part);
                p = p.resolve(part);
                if (index.whiteouts().contains(rel)) {
                    return new Found(null, false); // deleted here: nothing further down shows
                }
                BasicFileAttributes attributes = Trees.lstat(p);
                if (attributes == null) {
                    missing = true;
                    break;
                }
                if (!attributes.isDirectory()) {
                    return new Found(null, true);
                }
                if (index.opaques().contains(rel) && !rel.equals(path)) {
                    // below an opaque directory only this layer counts
                    Path rest = layer.resolve("fs").resolve(path);
                    BasicFileAttributes a = Trees.lstat(rest);
                    return a == null ? new Found(null, false) : new Found(a.isDirectory() ? rest : null, !a.isDirectory());
                }
            }
            if (!missing) {
                return new Found(p, false);
            }
        }
        return new Found(null, false);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            store.release(new ArrayList<>(keys));
        }
    }
}
