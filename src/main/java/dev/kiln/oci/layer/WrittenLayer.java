package dev.kiln.oci.layer;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;

/**
 * What {@link LayerWriter} produced.
 *
 * @param digest           digest of the bytes written (compressed): the manifest's layer digest
 * @param size             number of bytes written
 * @param diffId           digest of the uncompressed tar: the config's {@code rootfs.diff_ids}
 * @param uncompressedSize length of the uncompressed tar
 * @param entries          number of tar entries, including parent directories the writer added
 */
public record WrittenLayer(Digest digest, long size, Digest diffId, long uncompressedSize,
                           Compression compression, int entries) {

    public String mediaType() {
        return compression.mediaType();
    }

    public Descriptor descriptor() {
        return new Descriptor(mediaType(), digest, size);
    }
}
