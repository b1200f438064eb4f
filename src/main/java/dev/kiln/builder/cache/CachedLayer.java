package dev.kiln.builder.cache;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.image.ImageReference;
import java.time.Instant;

/**
 * A step's layer found in the cache.
 *
 * @param holder the repository that holds the layer blob, so a push to the same registry can mount it
 * @param empty  the step changed nothing: the image gets a history entry but not this layer
 */
public record CachedLayer(String key, Descriptor layer, Digest diffId, Instant created, ImageReference holder,
                          boolean empty) {
}
