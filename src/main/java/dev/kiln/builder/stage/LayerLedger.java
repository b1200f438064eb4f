package dev.kiln.builder.stage;

import dev.kiln.builder.cache.CachedLayer;
import dev.kiln.builder.cache.LayerCache;
import dev.kiln.builder.rootfs.RootfsMaterializer;
import dev.kiln.oci.Digest;
import dev.kiln.registry.client.PulledImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Where each of a build's layers came from: taken from the layer cache, snapshotted by this build,
 * or offered to the cache. The push mounts cached layers from where they live, and the report
 * counts what was reused.
 */
public final class LayerLedger implements RootfsMaterializer.LayerFiles {
    private final LayerCache cache;
    private final Map<Digest, CachedLayer> fromCache = new HashMap<>();
    private final Set<Digest> built = new HashSet<>();
    private final Set<Digest> stored = new HashSet<>();

    /** @param cache the build's layer cache, or null */
    public LayerLedger(LayerCache cache) {
        this.cache = cache;
    }

    public synchronized void fromCache(CachedLayer hit) {
        fromCache.put(hit.layer().parsedDigest(), hit);
    }

    public synchronized void built(Digest layer) {
        built.add(layer);
    }

    public synchronized void stored(Digest layer) {
        stored.add(layer);
    }

    /** Layers that came from the layer cache instead of a step that ran. */
    public synchronized Map<Digest, CachedLayer> fromCache() {
        return Map.copyOf(fromCache);
    }

    /** Layers this build snapshotted itself, as opposed to taking them from a base image or the cache. */
    public synchronized Set<Digest> built() {
        return Set.copyOf(built);
    }

    /** Layers this build offered to the layer cache. */
    public synchronized Set<Digest> stored() {
        return Set.copyOf(stored);
    }

    /** The layer's file: its own, or fetched from the cache for a layer taken from there. */
    @Override
    public Path fileOf(PulledImage.Blob blob) throws IOException {
        if (blob.file() != null) {
            return blob.file();
        }
        CachedLayer cached;
        synchronized (this) {
            cached = fromCache.get(blob.digest());
        }
        if (cached == null) {
            throw new IOException("layer " + blob.digest() + " has no local file");
        }
        return cache.fetch(cached);
    }
}
