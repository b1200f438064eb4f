package dev.kiln.oci.layer;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import java.util.List;

/**
 * What {@link LayerWriter} produced.
 *
 * @param digest           digest of the bytes written (compressed): the manifest's layer digest
 * @param size             number of bytes written
 * @param diffId           digest of the uncompressed tar: the config's {@code rootfs.diff_ids}
 * @param uncompressedSize length of the uncompressed tar
 * @param entries          number of tar entries, including parent directories the writer added
 * @param headers          those entries in tar order as a {@link LayerReader} of the layer reads them
 *                         (no content): what lies in the layer can be looked up without reading it again
 */
public record WrittenLayer(Digest digest, long size, Digest diffId, long uncompressedSize,
                           Compression compression, int entries, List<LayerEntry> headers) {

    public String mediaType() {
        return compression.mediaType();
    }

    public Descriptor descriptor() {
        return new Descriptor(mediaType(), digest, size);
    }
}
