package dev.kiln.registry.client;

import dev.kiln.oci.Digest;
import dev.kiln.oci.image.ImageReference;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * Where a built image goes: registries over HTTP ({@link ImagePusher#sink}), or the store of a
 * gateway the builder runs inside, where a push is a link and no bytes move.
 */
public interface ImageSink {

    /**
     * Puts every blob the destination lacks, then the manifest, at each destination.
     *
     * @param holders per blob, a repository known to hold it, so a destination on its registry can mount it
     * @param files   opens a blob that has no local file yet; called only when a destination lacks that blob
     */
    ImagePusher.Result push(ImagePusher.Image image, List<ImageReference> destinations, Map<Digest, ImageReference> holders,
                            ImagePusher.BlobFiles files) throws IOException;
}
