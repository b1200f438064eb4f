package dev.kiln.registry.mirror;

import dev.kiln.oci.Digest;
import java.io.IOException;
import java.util.Optional;

/**
 * Where a blob missing from the store may come from before this process fetches it from the upstream
 * itself: with several replicas on one store, the replica that owns the digest, so the upstream sees
 * one fetch per digest however many replicas are asked.
 */
public interface BlobSource {
    /** The bytes from elsewhere, ending in an error unless they hash to {@code digest}; empty to fetch here. */
    Optional<StreamingBlob> open(MirrorRoute route, Digest digest) throws IOException;

    BlobSource NONE = (route, digest) -> Optional.empty();
}
