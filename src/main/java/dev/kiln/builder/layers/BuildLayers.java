package dev.kiln.builder.layers;

import dev.kiln.builder.rootfs.LayerExtractor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.registry.client.PulledImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The kept layers one build uses: where its stages' root filesystems come from ({@link #unpack}),
 * and the leases it holds on them until {@link #close}. With a budget of 0 there is no store and
 * every layer is unpacked into the rootfs, as before the store existed.
 */
public final class BuildLayers implements AutoCloseable {
    /** What a build machine keeps unless told otherwise: a few big base images. */
    public static final long DEFAULT_MAX_BYTES = 10L << 30;

    /** Where a blob of a stack is; the cached-layer case fetches it, so only when the store lacks it. */
    @FunctionalInterface
    public interface BlobFiles {
        Path fileOf(PulledImage.Blob blob) throws IOException;
    }

    private Path dir;
    private Path defaultDir;
    private long maxBytes = DEFAULT_MAX_BYTES;
    /** {@code KILN_LAYER_STORE_MODE=copy|overlay} pins how layers are stacked, to compare them (bench/layer-store.sh). */
    private LayerStore.Mode mode = modeFromEnvironment();
    private Consumer<String> log = line -> { };
    private final List<Assembly> assemblies = new ArrayList<>();
    private final List<KeptStack> stacks = new ArrayList<>();

    private static LayerStore.Mode modeFromEnvironment() {
        String value = System.getenv("KILN_LAYER_STORE_MODE");
        if (value == null) {
            value = System.getProperty("kiln.layer-store.mode"); // in-process tests
        }
        if (value == null || value.isBlank()) {
            return LayerStore.Mode.AUTO;
        }
        try {
            return LayerStore.Mode.valueOf(value.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("KILN_LAYER_STORE_MODE must be auto, overlay or copy, not " + value);
        }
    }

    /** {@code dir} null for the default (under the build's cache dir); {@code maxBytes} 0 for no store. */
    public BuildLayers configure(Path dir, long maxBytes) {
        if (maxBytes < 0) {
            throw new IllegalArgumentException("the layer store's budget must be >= 0, not " + maxBytes);
        }
        this.dir = dir;
        this.maxBytes = maxBytes;
        return this;
    }

    /** The directory used when none was configured, and where progress lines go. */
    public BuildLayers defaults(Path defaultDir, Consumer<String> log) {
        this.defaultDir = defaultDir;
        this.log = log;
        return this;
    }

    /**
     * Makes {@code rootfs} (empty) hold {@code layers}, bottom first, whose DiffIDs are the last
     * {@code layers.size()} of {@code diffIds} (an image config's list).
     */
    public void unpack(Path rootfs, List<PulledImage.Blob> layers, List<Digest> diffIds, BlobFiles files) throws IOException {
        Path storeDir = dir != null ? dir : defaultDir;
        if (maxBytes == 0 || storeDir == null || diffIds.size() < layers.size()) {
            LayerExtractor extractor = LayerExtractor.forRootfs(rootfs);
            for (PulledImage.Blob layer : layers) {
                extractor.apply(files.fileOf(layer));
            }
            return;
        }
        List<LayerStore.Layer> stack = stackOf(layers, diffIds, files);
        Assembly assembly = LayerStore.open(storeDir, maxBytes).assemble(stack, rootfs, mode, log);
        synchronized (assemblies) {
            assemblies.add(assembly);
        }
        log.accept("root filesystem " + rootfs.getFileName() + ": " + assembly.how());
    }

    /**
     * Makes a RUN's overlay upper directory the top layer of {@code rootfs} where the rootfs is an
     * overlay mount of kept layers ({@link Assembly#stackOnTop}); false where it is not, or cannot be.
     */
    public boolean stackOnTop(Path rootfs, Path upper) throws IOException {
        Assembly assembly = null;
        synchronized (assemblies) {
            for (Assembly a : assemblies) {
                if (a.mountedOn(rootfs)) {
                    assembly = a;
                }
            }
        }
        if (assembly == null || !assembly.stackOnTop(upper)) {
            return false;
        }
        log.accept("root filesystem " + rootfs.getFileName() + ": a RUN's changes stacked on it by overlayfs, not copied");
        return true;
    }

    /**
     * The kept layers of a stage's {@code layers} (DiffIDs as for {@link #unpack}), leased until
     * the build ends, to look paths up without making the root filesystem: a layer the store does
     * not keep unpacked is looked at through its listing, never unpacked for this. Empty without a
     * store or where a layer cannot be read.
     */
    public Optional<KeptStack> lease(List<PulledImage.Blob> layers, List<Digest> diffIds, BlobFiles files) {
        Path storeDir = dir != null ? dir : defaultDir;
        if (maxBytes == 0 || storeDir == null || diffIds.size() < layers.size() || layers.isEmpty()) {
            return Optional.empty();
        }
        List<LayerStore.Layer> stack = stackOf(layers, diffIds, files);
        try {
            KeptStack kept = LayerStore.open(storeDir, maxBytes).view(stack, new LayerListings(storeDir));
            synchronized (assemblies) {
                stacks.add(kept);
            }
            return Optional.of(kept);
        } catch (IOException | RuntimeException e) {
            log.accept("layer store: cannot look below without unpacking: " + e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * Keeps the listing of a layer this build wrote and cached ({@code headers} as the layer's
     * {@code WrittenLayer} gives them), so a later build that takes it from the cache can look
     * below it without reading or unpacking it. Without a store, nothing.
     */
    public void listed(Digest diffId, List<LayerEntry> headers) {
        Path storeDir = dir != null ? dir : defaultDir;
        if (maxBytes == 0 || storeDir == null) {
            return;
        }
        try {
            new LayerListings(storeDir).put(diffId, headers);
        } catch (IOException | RuntimeException e) {
            // a later build reads the blob instead
            log.accept("layer store: cannot keep the listing of " + diffId + ": " + e.getMessage());
        }
    }

    private static List<LayerStore.Layer> stackOf(List<PulledImage.Blob> layers, List<Digest> diffIds, BlobFiles files) {
        List<Digest> own = diffIds.subList(diffIds.size() - layers.size(), diffIds.size());
        List<LayerStore.Layer> stack = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            PulledImage.Blob blob = layers.get(i);
            stack.add(new LayerStore.Layer(own.get(i), () -> files.fileOf(blob)));
        }
        return stack;
    }

    /** Unmounts and lets the layers go; before the build dir is deleted. */
    @Override
    public void close() {
        synchronized (assemblies) {
            for (Assembly assembly : assemblies) {
                try {
                    assembly.close();
                } catch (IOException e) {
                    log.accept("layer store: " + e.getMessage());
                }
            }
            assemblies.clear();
            stacks.forEach(KeptStack::close);
            stacks.clear();
        }
    }
}
