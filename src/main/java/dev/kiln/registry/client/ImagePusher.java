package dev.kiln.registry.client;

import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.image.ImageReference;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Pushes an image (its blobs as local files, and the manifest bytes) to one or more destinations. For
 * each blob: {@code HEAD} first; if missing, a cross-repository mount from a repository on the same
 * registry known to hold it (the given source, or a destination pushed earlier in this call); else a
 * monolithic upload streamed from the file. Then the manifest is {@code PUT} under the tag (or digest).
 */
public final class ImagePusher {
    private final Registries registries;
    private final Retry retry;
    private final BlobFiles files;
    private final TransferProgress progress;

    /** Fetches a blob that has no local file yet, for when it must be uploaded after all. */
    public interface BlobFiles {
        Path open(PulledImage.Blob blob) throws IOException;
    }

    public ImagePusher(Registries registries, Retry retry) {
        this(registries, retry, blob -> {
            throw new IOException("blob " + blob.digest() + " has no local file to upload");
        });
    }

    /** @param files where blobs without a local file come from (they are fetched only if a destination lacks them) */
    public ImagePusher(Registries registries, Retry retry, BlobFiles files) {
        this(registries, retry, files, TransferProgress.NONE);
    }

    /** @param progress told the bytes of each blob uploaded, and which blobs did not need to be */
    public ImagePusher(Registries registries, Retry retry, BlobFiles files, TransferProgress progress) {
        this.registries = registries;
        this.retry = retry;
        this.files = files;
        this.progress = progress;
    }

    /** What to push: the manifest exactly as it will be stored, and every blob it references. */
    public record Image(byte[] manifest, String mediaType, List<PulledImage.Blob> blobs) {
        public Image {
            blobs = List.copyOf(blobs);
        }

        public static Image of(PulledImage pulled) {
            return new Image(pulled.manifestBytes(), pulled.mediaType(), pulled.blobs());
        }

        public Digest digest() {
            return Digest.sha256(manifest);
        }
    }

    /**
     * What happened at one destination. {@code bytesSkipped} counts blobs that existed or were mounted;
     * {@code uploaded} names the blobs whose bytes had to be sent (or written).
     */
    public record Destination(ImageReference reference, Digest digest, long bytesUploaded, long bytesSkipped,
                              int blobsUploaded, int blobsMounted, int blobsExisting, Set<Digest> uploaded) {
        public Destination {
            uploaded = Set.copyOf(uploaded);
        }
    }

    /** Pushes over HTTP, one {@link ImagePusher} per push with that push's way to open blobs without a file. */
    public static ImageSink sink(Registries registries, Retry retry) {
        return sink(registries, retry, TransferProgress.NONE);
    }

    /** As {@link #sink(Registries, Retry)}, reporting byte progress to {@code progress}. */
    public static ImageSink sink(Registries registries, Retry retry, TransferProgress progress) {
        return (image, destinations, holders, files) -> new ImagePusher(registries, retry, files, progress)
                .push(image, destinations, holders);
    }

    public record Result(Digest digest, List<Destination> destinations) {
        public long bytesUploaded() {
            return destinations.stream().mapToLong(Destination::bytesUploaded).sum();
        }

        public long bytesSkipped() {
            return destinations.stream().mapToLong(Destination::bytesSkipped).sum();
        }
    }

    public Result push(Image image, List<ImageReference> destinations) throws IOException {
        return push(image, destinations, Map.of());
    }

    /** @param mountSource a repository that already holds the blobs (e.g. the base image's), or null */
    public Result push(Image image, List<ImageReference> destinations, ImageReference mountSource) throws IOException {
        Map<Digest, ImageReference> holders = new HashMap<>();
        if (mountSource != null) {
            for (PulledImage.Blob blob : image.blobs()) {
                holders.put(blob.digest(), mountSource);
            }
        }
        return push(image, destinations, holders);
    }

    /**
     * @param knownHolders per blob, a repository that already holds it (the base image's, the layer
     *                     cache's), so a destination on the same registry mounts it instead of uploading
     */
    public Result push(Image image, List<ImageReference> destinations, Map<Digest, ImageReference> knownHolders)
            throws IOException {
        Digest digest = image.digest();
        // registry + " " + digest -> a repository on that registry that now holds the blob
        Map<String, String> holders = new HashMap<>();
        knownHolders.forEach((blob, holder) -> holders.put(holder.registry() + " " + blob, holder.repository().value()));
        List<Destination> results = new ArrayList<>();
        for (ImageReference destination : destinations) {
            if (destination.digest() != null && !destination.digest().equals(digest)) {
                throw new IOException("cannot push to " + destination + ": the image's digest is " + digest);
            }
            results.add(pushOne(image, digest, destination, holders));
        }
        return new Result(digest, List.copyOf(results));
    }

    private Destination pushOne(Image image, Digest digest, ImageReference destination, Map<String, String> holders)
            throws IOException {
        RegistryClient client = registries.client(destination.registry());
        String repo = destination.repository().value();
        List<String> pushScope = List.of(RegistryClient.scope(repo, "pull,push"));
        long uploaded = 0;
        long skipped = 0;
        int nUploaded = 0;
        int nMounted = 0;
        int nExisting = 0;
        Set<Digest> sent = new LinkedHashSet<>();
        for (PulledImage.Blob blob : image.blobs()) {
            String key = destination.registry() + " " + blob.digest();
            long size = blob.descriptor().size();
            TransferProgress.Blob transfer = new TransferProgress.Blob(TransferProgress.Direction.PUSH,
                    destination.repository().value(), blob.digest(), size);
            Outcome outcome = retry.run(() -> pushBlob(client, repo, pushScope, blob, holders.get(key), transfer));
            switch (outcome) {
                case EXISTED -> {
                    nExisting++;
                    skipped += size;
                    progress.skipped(transfer, "already there");
                }
                case MOUNTED -> {
                    nMounted++;
                    skipped += size;
                    progress.skipped(transfer, "mounted from " + holders.get(key));
                }
                case UPLOADED -> {
                    nUploaded++;
                    uploaded += size;
                    sent.add(blob.digest());
                    progress.finished(transfer);
                }
            }
            holders.putIfAbsent(key, repo);
        }
        String reference = destination.tag() != null ? destination.tag() : digest.toString();
        retry.run(() -> {
            URI uri = URI.create(client.endpoint().url() + "/v2/" + repo + "/manifests/" + reference);
            try (UpstreamResponse response = client.send("PUT", uri, pushScope, Map.of("Content-Type", image.mediaType()),
                    RegistryClient.RequestBody.of(image.manifest()))) {
                if (response.status() != 201 && response.status() != 200) {
                    throw client.failure(response, "manifest " + repo + ":" + reference);
                }
                String stored = response.header("Docker-Content-Digest");
                if (stored != null && Digest.isDigest(stored)) {
                    Digest claimed = Digest.parse(stored);
                    if (!Digester.like(claimed).update(image.manifest()).digest().equals(claimed)) {
                        throw new DigestMismatchException(destination + " stored the manifest as " + claimed + ", not " + digest);
                    }
                }
                return null;
            }
        });
        return new Destination(destination.withDigest(digest), digest, uploaded, skipped, nUploaded, nMounted, nExisting, sent);
    }

    private enum Outcome { EXISTED, MOUNTED, UPLOADED }

    private Outcome pushBlob(RegistryClient client, String repo, List<String> pushScope, PulledImage.Blob blob, String holder,
                             TransferProgress.Blob transfer) throws IOException {
        Digest digest = blob.digest();
        String base = client.endpoint().url() + "/v2/" + repo + "/blobs/";
        try (UpstreamResponse head = client.send("HEAD", URI.create(base + digest), pushScope, Map.of(), null)) {
            if (head.status() == 200) {
                return Outcome.EXISTED;
            }
            if (head.status() != 404) {
                throw client.failure(head, "blob " + repo + "@" + digest);
            }
        }
        URI upload = null;
        if (holder != null && !holder.equals(repo)) {
            List<String> scopes = List.of(pushScope.get(0), RegistryClient.scope(holder, "pull"));
            URI mount = URI.create(base + "uploads/?mount=" + digest + "&from=" + holder);
            try (UpstreamResponse response = client.send("POST", mount, scopes, Map.of(), RegistryClient.RequestBody.of(new byte[0]))) {
                if (response.status() == 201) {
                    return Outcome.MOUNTED;
                }
                if (response.status() == 202 && response.header("Location") != null) {
                    upload = client.endpoint().url().resolve(response.header("Location"));
                }
                // anything else: the registry will not mount; upload instead
            }
        }
        if (upload == null) {
            try (UpstreamResponse response = client.send("POST", URI.create(base + "uploads/"), pushScope,
                    Map.of(), RegistryClient.RequestBody.of(new byte[0]))) {
                if (response.status() != 202 || response.header("Location") == null) {
                    throw client.failure(response, "starting an upload to " + repo);
                }
                upload = client.endpoint().url().resolve(response.header("Location"));
            }
        }
        String location = upload.toString();
        URI put = URI.create(location + (location.contains("?") ? "&" : "?") + "digest=" + digest);
        RegistryClient.RequestBody body = RegistryClient.RequestBody.of(blob.file() != null ? blob.file() : files.open(blob));
        progress.started(transfer);
        try (UpstreamResponse response = client.send("PUT", put, pushScope, Map.of("Content-Type", "application/octet-stream"),
                new RegistryClient.RequestBody() {
                    public long length() {
                        return body.length();
                    }

                    public InputStream open() throws IOException {
                        return TransferProgress.counting(body.open(), progress, transfer);
                    }
                })) {
            if (response.status() != 201) {
                throw client.failure(response, "uploading blob " + digest + " to " + repo);
            }
        }
        return Outcome.UPLOADED;
    }
}
