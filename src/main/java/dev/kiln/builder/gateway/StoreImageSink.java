package dev.kiln.builder.gateway;

import dev.kiln.oci.Digest;
import dev.kiln.oci.RepositoryName;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.ImagePusher;
import dev.kiln.registry.client.ImageSink;
import dev.kiln.registry.client.PulledImage;
import dev.kiln.registry.server.RegistryService;
import dev.kiln.registry.spec.RegistryException;
import dev.kiln.store.BlobNotFoundException;
import dev.kiln.store.Store;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Pushes for a build running inside the gateway. A destination on the gateway itself is written
 * straight into the store: a blob the store has is only linked into the repository, a new one is
 * inserted from the build's file (a hard link where the filesystem allows), and the manifest goes
 * through the registry's own manifest PUT, so validation, tags and referrers are those of any push.
 * Other destinations are left to {@code elsewhere} (HEAD, mount, upload only what is missing).
 *
 * <p>One instance serves one build: it remembers which blobs the build added to the store, so a
 * layer the layer cache inserted first still counts as uploaded when a destination links it.
 */
public final class StoreImageSink implements ImageSink {
    private final RegistryService registry;
    private final List<String> gatewayHosts;
    private final ImageSink elsewhere;
    private final Set<Digest> added = new HashSet<>();

    /** @param gatewayHosts {@code host:port} names that reach this gateway */
    public StoreImageSink(RegistryService registry, List<String> gatewayHosts, ImageSink elsewhere) {
        this.registry = registry;
        this.gatewayHosts = List.copyOf(gatewayHosts);
        this.elsewhere = elsewhere;
    }

    public boolean isOnGateway(ImageReference reference) {
        return gatewayHosts.contains(reference.registry());
    }

    @Override
    public ImagePusher.Result push(ImagePusher.Image image, List<ImageReference> destinations,
                                   Map<Digest, ImageReference> holders, ImagePusher.BlobFiles files) throws IOException {
        List<ImageReference> foreign = destinations.stream().filter(d -> !isOnGateway(d)).toList();
        List<ImagePusher.Destination> pushedElsewhere = foreign.isEmpty() ? List.of()
                : elsewhere.push(image, foreign, holders, files).destinations();
        List<ImagePusher.Destination> results = new ArrayList<>();
        int next = 0;
        for (ImageReference destination : destinations) {
            results.add(isOnGateway(destination) ? intoStore(image, destination, files) : pushedElsewhere.get(next++));
        }
        return new ImagePusher.Result(image.digest(), List.copyOf(results));
    }

    /** Writes the image into the store under {@code destination}'s repository, whatever host it names. */
    ImagePusher.Destination intoStore(ImagePusher.Image image, ImageReference destination, ImagePusher.BlobFiles files)
            throws IOException {
        Digest digest = image.digest();
        if (destination.digest() != null && !destination.digest().equals(digest)) {
            throw new IOException("cannot push to " + destination + ": the image's digest is " + digest);
        }
        RepositoryName name = destination.repository();
        Store store = registry.store();
        long uploaded = 0;
        long skipped = 0;
        int nUploaded = 0;
        int nLinked = 0;
        int nExisting = 0;
        Set<Digest> sent = new LinkedHashSet<>();
        try {
            registry.namespaces().requireWritable(name, "push to");
            for (PulledImage.Blob blob : image.blobs()) {
                Digest blobDigest = blob.digest();
                boolean linked = store.metadata().hasBlob(name, blobDigest);
                if (!present(store, blobDigest)) {
                    boolean inserted = store.blobs().insert(blob.file() != null ? blob.file() : files.open(blob), blobDigest);
                    if (inserted) {
                        remember(blobDigest);
                    }
                }
                if (!linked) {
                    store.metadata().linkBlob(name, blobDigest);
                }
                long size = blob.descriptor().size();
                if (addedByThisBuild(blobDigest)) {
                    nUploaded++;
                    uploaded += size;
                    sent.add(blobDigest);
                } else if (linked) {
                    nExisting++;
                    skipped += size;
                } else {
                    nLinked++;
                    skipped += size;
                }
            }
            String reference = destination.tag() != null ? destination.tag() : digest.toString();
            registry.putManifest(name, reference, image.mediaType(), image.manifest());
        } catch (RegistryException e) {
            throw new IOException(destination + ": " + e.getMessage(), e);
        }
        return new ImagePusher.Destination(destination.withDigest(digest), digest, uploaded, skipped, nUploaded, nLinked,
                nExisting, sent);
    }

    /** Whether the store has the blob, renewing its garbage-collection grace period so it stays until linked. */
    private static boolean present(Store store, Digest digest) throws IOException {
        try {
            store.blobs().touch(digest);
            return true;
        } catch (BlobNotFoundException e) {
            return false;
        }
    }

    private synchronized void remember(Digest digest) {
        added.add(digest);
    }

    private synchronized boolean addedByThisBuild(Digest digest) {
        return added.contains(digest);
    }
}
