package dev.kiln.builder.layers;

import java.io.IOException;
import java.util.List;

/**
 * A root filesystem made of kept layers ({@link LayerStore#assemble}): while it is open, its layers
 * are never evicted. Closing it unmounts the overlay, if it is one, and lets the layers go; the
 * rootfs's own files (an overlay's upper directory, or the copy) are the caller's to delete.
 */
public final class Assembly implements AutoCloseable {
    private final LayerStore store;
    private final List<String> keys;
    private final OverlayMount mount;
    private final String how;
    private boolean closed;

    Assembly(LayerStore store, List<String> keys, OverlayMount mount, String how) {
        this.store = store;
        this.keys = List.copyOf(keys);
        this.mount = mount;
        this.how = how;
    }

    /** Whether the rootfs is an overlayfs mount of the kept layers. */
    public boolean overlay() {
        return mount != null;
    }

    /** How the rootfs was made, for the build log. */
    public String how() {
        return how;
    }

    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (mount != null) {
                mount.unmount();
            }
        } finally {
            store.release(keys);
        }
    }
}
