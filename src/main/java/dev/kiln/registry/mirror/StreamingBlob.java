package dev.kiln.registry.mirror;

import dev.kiln.oci.Digest;
import java.io.InputStream;

/** A blob being served while it arrives from upstream; {@code size} is -1 when the upstream sent none. */
public record StreamingBlob(Digest digest, long size, InputStream body) {
}
