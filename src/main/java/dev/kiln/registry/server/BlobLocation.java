package dev.kiln.registry.server;

import dev.kiln.oci.Digest;
import java.nio.file.Path;

/** Where a readable blob or manifest is: a local file to send, with the headers that describe it. */
public record BlobLocation(Digest digest, long size, String mediaType, Path file) {
}
