package dev.kiln.builder.cache;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.ImageManifests;
import dev.kiln.oci.Manifest;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.image.ImageConfig;
import dev.kiln.oci.image.ImageReference;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A cache entry as kaniko stores it: a one-layer image tagged with the step's key, whose config
 * {@code created} says when the layer was built (what a TTL is measured against) and whose label
 * {@value #EMPTY_LABEL} marks a step that changed nothing. Every {@link LayerCache} that keeps its
 * entries as images writes and reads them here, so they can read each other's.
 */
public final class CacheImage {
    static final String EMPTY_LABEL = "dev.kiln.cache.empty";

    private CacheImage() {
    }

    /** An entry to store: its config and manifest, exactly as they are pushed. */
    public record Entry(byte[] config, Descriptor configDescriptor, byte[] manifest) {
    }

    /** Reads a blob the manifest names, for {@link #read}. */
    public interface ConfigReader {
        byte[] read(Descriptor config) throws IOException;
    }

    public static Entry of(Descriptor layer, Digest diffId, String createdBy, boolean empty, Instant now) {
        ImageConfig image = ImageConfig.empty().withCreated(now).withLayer(diffId, ImageConfig.History.of(now, createdBy));
        if (empty) {
            image = image.withConfig(image.config().withLabel(EMPTY_LABEL, "true"));
        }
        byte[] config = image.toJson();
        Descriptor configDescriptor = new Descriptor(MediaTypes.OCI_CONFIG, Digest.sha256(config), config.length);
        return new Entry(config, configDescriptor, ImageManifests.oci(configDescriptor, List.of(layer)));
    }

    /**
     * The cached layer an entry describes; empty when it has expired ({@code ttl} null: never) or is
     * not a one-layer image with one diff_id, which {@code warn} is told about.
     *
     * @param where the entry's name for messages, e.g. {@code repo:key}
     */
    public static Optional<CachedLayer> read(String key, Manifest manifest, ConfigReader configs, ImageReference holder,
                                             Duration ttl, Instant now, String where, Consumer<String> warn)
            throws IOException {
        if (manifest.isIndex() || manifest.layers() == null || manifest.layers().size() != 1) {
            warn.accept("cache entry " + where + " is not a one-layer image; ignoring it");
            return Optional.empty();
        }
        ImageConfig config = ImageConfig.parse(configs.read(manifest.config()));
        if (config.diffIds().size() != 1) {
            warn.accept("cache entry " + where + " has no single diff_id; ignoring it");
            return Optional.empty();
        }
        Instant created = config.created() == null ? Instant.EPOCH : Instant.parse(config.created());
        if (ttl != null && created.plus(ttl).isBefore(now)) {
            return Optional.empty();
        }
        boolean empty = config.config().labels() != null && "true".equals(config.config().labels().get(EMPTY_LABEL));
        return Optional.of(new CachedLayer(key, manifest.layers().get(0), config.diffIds().get(0), created, holder, empty));
    }
}
