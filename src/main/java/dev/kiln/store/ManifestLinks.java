package dev.kiln.store;

import dev.kiln.oci.Digest;
import dev.kiln.oci.RepositoryName;
import java.io.IOException;
import java.util.List;

/** Links a pushed manifest so that a garbage collection running at the same time cannot leave it dangling. */
public final class ManifestLinks {
    private ManifestLinks() {
    }

    /**
     * Touches the manifest's blobs and its own (renewing their grace period), links the manifest, then checks the
     * blobs are still there. A collection retires blobs before its second mark: when this check finds
     * them, the link was in place before they were retired and the second mark restores them; when it
     * does not, the link is taken back and {@link BlobNotFoundException} tells the pusher to push again.
     */
    public static void link(Store store, RepositoryName repository, Digest manifest, String mediaType, List<Digest> blobs)
            throws IOException {
        List<Digest> held = new java.util.ArrayList<>(blobs);
        held.add(manifest);
        for (Digest blob : held) {
            store.blobs().touch(blob);
        }
        store.metadata().linkManifest(repository, manifest, mediaType);
        for (Digest blob : held) {
            if (!store.blobs().exists(blob)) {
                store.metadata().unlinkManifest(repository, manifest);
                throw new BlobNotFoundException(blob);
            }
        }
    }
}
