package dev.kiln.store;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.InvalidManifestException;
import dev.kiln.oci.Manifest;
import dev.kiln.oci.RepositoryName;
import java.io.IOException;
import java.io.InputStream;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Predicate;

/** The blobs that repositories hold on to: their manifests and everything those reference. */
public final class References {
    private References() {
    }

    /**
     * Digests referenced by the manifests of the repositories {@code which} accepts, plus, when
     * {@code withLinks}, every blob merely linked to them (pushed, no manifest yet).
     */
    public static Set<Digest> heldBy(Store store, Predicate<RepositoryName> which, boolean withLinks) throws IOException {
        Set<Digest> held = new HashSet<>();
        for (RepositoryName repository : store.metadata().repositories()) {
            if (!which.test(repository)) {
                continue;
            }
            for (Digest digest : store.metadata().manifests(repository)) {
                held.add(digest);
                Manifest manifest = read(store, digest, store.metadata().manifestMediaType(repository, digest).orElse(null));
                if (manifest != null) {
                    manifest.blobReferences().map(Descriptor::digest).map(Digest::parse).forEach(held::add);
                }
            }
            if (withLinks) {
                held.addAll(store.metadata().blobs(repository));
            }
        }
        return held;
    }

    static Manifest read(Store store, Digest digest, String mediaType) throws IOException {
        try (InputStream in = store.blobs().open(digest, 0)) {
            return Manifest.parse(in.readNBytes(ManifestLimits.MAX_MANIFEST_BYTES + 1), mediaType);
        } catch (BlobNotFoundException | InvalidManifestException e) {
            return null;
        }
    }
}
