package dev.kiln.registry.server;

import dev.kiln.oci.Digest;

public record ManifestPut(Digest digest, Digest subject) {
}
