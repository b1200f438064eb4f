package dev.kiln.store;

import dev.kiln.oci.Digest;
import java.time.Instant;

public record BlobInfo(Digest digest, long size, Instant lastModified) {
}
