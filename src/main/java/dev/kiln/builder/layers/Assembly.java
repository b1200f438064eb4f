package dev.kiln.builder.layers;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A root filesystem made of kept layers ({@link LayerStore#assemble}): while it is open, its layers
 * are never evicted. Closing it unmounts the overlay, if it is one, and lets the layers go; the
 * rootfs's own files (an overlay's upper directory, or the copy) are the caller's to delete.
 */
public final class Assembly implements AutoCloseable {
    private final LayerStore store;
    private final List<String> keys;
    private OverlayMount mount;
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

    /**
     * Makes {@code upper}, the upper directory of an overlay that ran on this rootfs, the rootfs's top
     * layer ({@link OverlayMount#restack}); it must then stay where it is until the build's directory
     * goes. False where the rootfs is not an overlay mount or cannot be mounted again so: the caller
     * applies the changes itself.
     */
    public synchronized boolean stackOnTop(Path upper) throws IOException {
        if (mount == null || closed) {
            return false;
        }
        OverlayMount next = mount.restack(upper);
        if (next == null) {
            return false;
        }
        boolean stacked = next.hasOnTop(upper);
        mount = next;
        return stacked;
    }

    /** The rootfs this assembly made. */
    boolean mountedOn(Path rootfs) {
        return mount != null && mount.target().toAbsolutePath().normalize().equals(rootfs.toAbsolutePath().normalize());
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
