package dev.kiln.builder.cache;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where a build finds and leaves the layers of its steps, by cache key. A cache is an optimisation:
 * a lookup that fails is a miss, a store that fails is a warning, and neither fails the build.
 */
public interface LayerCache extends AutoCloseable {

    /** The fresh layer stored under {@code key}, or empty (absent, expired or unreadable). */
    Optional<CachedLayer> find(String key);

    /** The layer's blob as a verified local file. */
    Path fetch(CachedLayer layer) throws IOException;

    /**
     * Stores a step's layer under {@code key}; may finish in the background (see {@link #flush()}).
     * An {@code empty} layer is stored too, so a step that changed nothing is not run again either.
     */
    void store(String key, Descriptor layer, Digest diffId, Path file, String createdBy, boolean empty);

    /** Waits until every {@link #store} has finished, so that a following build can find the layers. */
    void flush();

    /** The repository the stored layers end up in, for destinations on its registry to mount from; or null. */
    dev.kiln.oci.image.ImageReference holder();

    /** A short description for logs, e.g. the cache repository. */
    String describe();

    /** Waits for what is being stored and lets go of threads and files. */
    @Override
    default void close() {
    }

    /** kaniko's {@code --no-push-cache}: lookups go to {@code cache}, stores go nowhere. */
    static LayerCache readOnly(LayerCache cache) {
        return new LayerCache() {
            @Override
            public Optional<CachedLayer> find(String key) {
                return cache.find(key);
            }

            @Override
            public Path fetch(CachedLayer layer) throws IOException {
                return cache.fetch(layer);
            }

            @Override
            public void store(String key, Descriptor layer, Digest diffId, Path file, String createdBy, boolean empty) {
            }

            @Override
            public void flush() {
                cache.flush();
            }

            @Override
            public dev.kiln.oci.image.ImageReference holder() {
                return cache.holder();
            }

            @Override
            public String describe() {
                return cache.describe() + " (read only: --no-push-cache)";
            }
        };
    }
}
