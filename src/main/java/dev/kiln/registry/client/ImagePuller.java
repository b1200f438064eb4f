package dev.kiln.registry.client;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.Manifest;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.image.ImageConfig;
import dev.kiln.oci.image.ImageReference;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Pulls a whole image into a {@link BlobCache}: resolves the reference through the mirrors, fetches the
 * manifest (choosing the platform from an index), and downloads config and layers, verifying every
 * digest. Blobs already in the cache are not downloaded again.
 */
public final class ImagePuller implements ImageSource {
    private static final String ACCEPT = String.join(", ", MediaTypes.MANIFESTS);
    private static final int MAX_MANIFEST = 4 << 20;
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    private final Registries registries;
    private final MirrorRoutes routes;
    private final BlobCache cache;
    private final Retry retry;
    private final TransferProgress progress;

    public ImagePuller(Registries registries, MirrorRoutes routes, BlobCache cache, Retry retry) {
        this(registries, routes, cache, retry, TransferProgress.NONE);
    }

    private ImagePuller(Registries registries, MirrorRoutes routes, BlobCache cache, Retry retry, TransferProgress progress) {
        this.registries = registries;
        this.routes = routes;
        this.cache = cache;
        this.retry = retry;
        this.progress = progress;
    }

    /** This puller, reporting the bytes of each blob it downloads to {@code progress}. */
    public ImagePuller withProgress(TransferProgress progress) {
        return new ImagePuller(registries, routes, cache, retry, progress);
    }

    /** A platform such as {@code linux/arm64/v8}; {@code variant} may be null. */
    public record Platform(String os, String architecture, String variant) {
        public static final Platform LINUX_AMD64 = new Platform("linux", "amd64", null);

        public static Platform parse(String text) {
            String[] parts = text.split("/");
            if (parts.length < 2 || parts.length > 3 || parts[0].isEmpty() || parts[1].isEmpty()) {
                throw new IllegalArgumentException("platform must be os/arch[/variant], got '" + text + "'");
            }
            return new Platform(parts[0], parts[1], parts.length == 3 ? parts[2] : null);
        }

        boolean matches(Descriptor.Platform p) {
            if (p == null || !os.equals(p.os()) || !architecture.equals(p.architecture())) {
                return false;
            }
            return variant == null || variant.equals(normalVariant(p.architecture(), p.variant()));
        }

        private static String normalVariant(String arch, String v) {
            return (v == null || v.isEmpty()) && arch.equals("arm64") ? "v8" : v;
        }

        @Override
        public String toString() {
            return os + "/" + architecture + (variant == null ? "" : "/" + variant);
        }
    }

    public PulledImage pull(ImageReference reference) throws IOException {
        return pull(reference, Platform.LINUX_AMD64);
    }

    /** Tries each mirror, then the original registry; the error of the last one carries the others as suppressed. */
    @Override
    public PulledImage pull(ImageReference reference, Platform platform) throws IOException {
        List<IOException> failures = new ArrayList<>();
        for (ImageReference candidate : routes.candidates(reference)) {
            try {
                return pullFrom(candidate, platform);
            } catch (IOException e) {
                failures.add(e);
            }
        }
        IOException last = failures.get(failures.size() - 1);
        IOException error = failures.size() == 1 ? last : new IOException("cannot pull " + reference + " from any of "
                + routes.candidates(reference).stream().map(ImageReference::registry).toList() + ": " + last.getMessage(), last);
        failures.subList(0, failures.size() - 1).forEach(error::addSuppressed);
        throw error;
    }

    private PulledImage pullFrom(ImageReference ref, Platform platform) throws IOException {
        RegistryClient client = registries.client(ref.registry());
        String repo = ref.repository().value();
        return assemble(ref, platform, new ImageReader() {
            @Override
            public FetchedManifest manifest(String reference, Digest expected) throws IOException {
                return retry.run(() -> fetchManifest(client, repo, reference, expected, ref));
            }

            @Override
            public Path blob(Descriptor descriptor, String what) throws IOException {
                return fetchBlob(client, repo, descriptor, what);
            }
        });
    }

    /** One repository's manifests and blobs, read over HTTP or from a store the builder runs beside. */
    public interface ImageReader {
        /** The manifest {@code reference} (a tag or a digest); {@code expected} is its digest when known. */
        FetchedManifest manifest(String reference, Digest expected) throws IOException;

        /** The blob as a verified local file. */
        Path blob(Descriptor descriptor, String what) throws IOException;
    }

    /** A manifest exactly as stored, with its digest. */
    public record FetchedManifest(Digest digest, byte[] bytes, Manifest manifest) {
    }

    /**
     * The image {@code ref} names, read through {@code reader}: the platform's manifest when it names
     * an index, then config and layers as local files.
     */
    public static PulledImage assemble(ImageReference ref, Platform platform, ImageReader reader) throws IOException {
        FetchedManifest top = reader.manifest(ref.reference(), ref.digest());
        FetchedManifest image = top;
        Digest indexDigest = null;
        if (top.manifest().isIndex()) {
            indexDigest = top.digest();
            Digest digest = choose(top.manifest(), platform, ref).parsedDigest();
            image = reader.manifest(digest.toString(), digest);
            if (image.manifest().isIndex()) {
                throw new IOException(ref + ": the index entry for " + platform + " is itself an index");
            }
        }
        Descriptor configDescriptor = image.manifest().config();
        Path configFile = reader.blob(configDescriptor, ref + " config");
        ImageConfig config;
        try {
            config = ImageConfig.parse(Files.readAllBytes(configFile));
        } catch (IllegalArgumentException e) {
            throw new IOException(ref + ": bad image config " + configDescriptor.digest() + ": " + e.getMessage(), e);
        }
        List<PulledImage.Blob> layers = new ArrayList<>();
        for (Descriptor layer : image.manifest().layers()) {
            if (layer.urls() != null && !layer.urls().isEmpty() && layer.mediaType().equals(MediaTypes.DOCKER_FOREIGN_LAYER)) {
                throw new IOException(ref + ": foreign layers (" + layer.digest() + ") are not supported");
            }
            layers.add(new PulledImage.Blob(layer, reader.blob(layer, ref + " layer " + layer.digest())));
        }
        return new PulledImage(ref.withDigest(image.digest()), image.digest(), image.bytes(), image.manifest().mediaType(),
                image.manifest(), indexDigest, config, new PulledImage.Blob(configDescriptor, configFile), layers);
    }

    /** The entry of an index or manifest list for {@code platform}. */
    public static Descriptor choose(Manifest index, Platform platform, ImageReference ref) throws IOException {
        return index.manifests().stream()
                .filter(d -> MediaTypes.isManifest(d.mediaType()) && !MediaTypes.isIndex(d.mediaType()))
                .filter(d -> platform.matches(d.platform()))
                .findFirst()
                .orElseThrow(() -> new IOException(ref + " has no image for platform " + platform + "; it offers "
                        + index.manifests().stream().map(d -> d.platform() == null ? "?" : d.platform().os() + "/"
                        + d.platform().architecture() + (d.platform().variant() == null ? "" : "/" + d.platform().variant())).toList()));
    }

    /**
     * Manifests are kept in the blob cache by digest too, so a warmed cache (see {@code kiln warm})
     * reads a pinned image without asking the registry at all. A tag is always asked for: a
     * {@code HEAD} first would cost the same round trip as the small {@code GET} it might save.
     */
    private FetchedManifest fetchManifest(RegistryClient client, String repo, String reference, Digest expected, ImageReference ref)
            throws IOException {
        String path = "/v2/" + repo + "/manifests/" + reference;
        if (expected != null && cache.contains(expected)) {
            byte[] bytes = Files.readAllBytes(cache.path(expected));
            try {
                return new FetchedManifest(expected, bytes, Manifest.parse(bytes, impliedMediaType(bytes)));
            } catch (IllegalArgumentException e) {
                // not a manifest after all (a blob with the same digest cannot be): fetch it properly
            }
        }
        FetchedManifest fetched = fetchManifestFromRegistry(client, repo, path, reference, expected, ref);
        if (!cache.contains(fetched.digest())) {
            cache.put(fetched.digest(), fetched.bytes().length, new java.io.ByteArrayInputStream(fetched.bytes()), ref + " manifest");
        }
        return fetched;
    }

    /** A cached manifest has no Content-Type: an OCI manifest may omit mediaType, so its shape decides. */
    private static String impliedMediaType(byte[] bytes) throws IOException {
        com.fasterxml.jackson.databind.JsonNode root = JSON.readTree(bytes);
        if (root == null || root.hasNonNull("mediaType")) {
            return null;
        }
        return root.has("manifests") ? MediaTypes.OCI_INDEX : MediaTypes.OCI_MANIFEST;
    }

    private FetchedManifest fetchManifestFromRegistry(RegistryClient client, String repo, String path, String reference,
                                              Digest expected, ImageReference ref) throws IOException {
        try (UpstreamResponse response = client.get(repo, path, Map.of("Accept", ACCEPT))) {
            if (response.status() != 200) {
                throw client.failure(response, "manifest " + repo + ":" + reference);
            }
            byte[] bytes = response.body().readNBytes(MAX_MANIFEST + 1);
            if (bytes.length > MAX_MANIFEST) {
                throw new IOException(ref + ": manifest larger than " + MAX_MANIFEST + " bytes");
            }
            Digest digest;
            if (expected != null) {
                digest = Digester.like(expected).update(bytes).digest();
                if (!digest.equals(expected)) {
                    throw new DigestMismatchException(ref + ": manifest " + reference + " has digest " + digest + ", not " + expected);
                }
            } else {
                digest = Digest.sha256(bytes);
                String header = response.header("Docker-Content-Digest");
                if (header != null && Digest.isDigest(header)) {
                    Digest claimed = Digest.parse(header);
                    if (!Digester.like(claimed).update(bytes).digest().equals(claimed)) {
                        throw new DigestMismatchException(ref + ": manifest does not match its Docker-Content-Digest " + claimed);
                    }
                }
            }
            Manifest manifest;
            try {
                manifest = Manifest.parse(bytes, response.contentType());
            } catch (IllegalArgumentException e) {
                throw new IOException(ref + ": " + e.getMessage(), e);
            }
            return new FetchedManifest(digest, bytes, manifest);
        }
    }

    private Path fetchBlob(RegistryClient client, String repo, Descriptor descriptor, String what) throws IOException {
        Digest digest = descriptor.parsedDigest();
        if (cache.contains(digest)) {
            return cache.path(digest);
        }
        TransferProgress.Blob blob = new TransferProgress.Blob(TransferProgress.Direction.PULL, what, digest, descriptor.size());
        progress.started(blob);
        Path file = retry.run(() -> {
            try (UpstreamResponse response = client.get(repo, "/v2/" + repo + "/blobs/" + digest, Map.of())) {
                if (response.status() != 200) {
                    throw client.failure(response, "blob " + repo + "@" + digest);
                }
                try (InputStream body = TransferProgress.counting(response.body(), progress, blob)) {
                    return cache.put(digest, descriptor.size(), body, what);
                }
            }
        });
        progress.finished(blob);
        return file;
    }
}
