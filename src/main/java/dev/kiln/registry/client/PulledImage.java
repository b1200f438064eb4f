package dev.kiln.registry.client;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.Manifest;
import dev.kiln.oci.image.ImageConfig;
import dev.kiln.oci.image.ImageReference;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An image fetched into a {@link BlobCache}: the platform manifest exactly as the registry sent it, its
 * config and the verified local files of config and layers.
 *
 * @param source         where it was actually pulled from (a mirror, maybe), pinned to {@code manifestDigest}
 * @param indexDigest    the index or manifest list it was chosen from, or null
 */
public record PulledImage(
        ImageReference source,
        Digest manifestDigest,
        byte[] manifestBytes,
        String mediaType,
        Manifest manifest,
        Digest indexDigest,
        ImageConfig config,
        Blob configBlob,
        List<Blob> layers) {

    /** A blob of the image and the local file holding it. */
    public record Blob(Descriptor descriptor, Path file) {
        public Digest digest() {
            return descriptor.parsedDigest();
        }
    }

    public PulledImage {
        layers = List.copyOf(layers);
    }

    /** Config first, then layers: every blob the manifest needs, as a pusher wants them. */
    public List<Blob> blobs() {
        List<Blob> all = new ArrayList<>();
        all.add(configBlob);
        all.addAll(layers);
        return all;
    }
}
