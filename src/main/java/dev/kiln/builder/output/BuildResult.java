package dev.kiln.builder.output;

import dev.kiln.oci.Digest;
import dev.kiln.registry.client.ImagePusher;
import dev.kiln.registry.client.PulledImage;
import java.util.List;

/**
 * A build's outcome: the manifest's digest (null after a dry run), the bytes that make the image,
 * and what was reused or moved.
 */
public record BuildResult(Digest digest, byte[] manifest, byte[] config, List<PulledImage.Blob> layers, Report report) {

    /**
     * What a build reused and what it moved, each distinct blob counted once however many
     * destinations it went to.
     *
     * @param layersFromCache the image's layers that came from the layer cache instead of a step that ran
     * @param layersReused    the image's layers that no destination lacked (without destinations: those not
     *                        built by this build, i.e. from the base image or the cache)
     * @param bytesUploaded   bytes of blobs (config and layers) that some destination lacked
     * @param layerBytesUploaded the part of {@code bytesUploaded} that is layers
     * @param bytesNotUploaded bytes of blobs every destination already had or mounted
     * @param destinations    per destination, as the push saw it
     */
    public record Report(int layers, int layersFromCache, int layersReused, long bytesUploaded, long layerBytesUploaded,
                         long bytesNotUploaded, List<ImagePusher.Destination> destinations) {
        public Report {
            destinations = List.copyOf(destinations);
        }
    }
}
