package dev.kiln.registry.server;

import dev.kiln.oci.Digest;

/**
 * A readable blob or manifest in the store, with the headers that describe it; its bytes are reached
 * through the store ({@link dev.kiln.store.BlobStore#body}), whichever backend holds them.
 */
public record BlobLocation(Digest digest, long size, String mediaType) {
}
