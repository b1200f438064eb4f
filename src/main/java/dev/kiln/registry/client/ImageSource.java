package dev.kiln.registry.client;

import dev.kiln.oci.image.ImageReference;
import java.io.IOException;

/**
 * Where a build's base images come from: a registry over HTTP ({@link ImagePuller}), or the store
 * of a gateway the builder runs inside, which hands out its own blob files without a network hop.
 */
public interface ImageSource {

    /** The image for {@code platform} (chosen from an index), its config and layers as verified local files. */
    PulledImage pull(ImageReference reference, ImagePuller.Platform platform) throws IOException;
}
