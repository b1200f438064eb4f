package dev.kiln.builder.gateway;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.InvalidManifestException;
import dev.kiln.oci.Manifest;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.RepositoryName;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.ImagePuller;
import dev.kiln.registry.client.ImageSource;
import dev.kiln.registry.client.PulledImage;
import dev.kiln.registry.mirror.MirrorRoute;
import dev.kiln.registry.mirror.MirrorService;
import dev.kiln.registry.mirror.UpstreamRouter;
import dev.kiln.registry.server.BlobLocation;
import dev.kiln.registry.server.RegistryService;
import dev.kiln.registry.spec.RegistryException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Base images for a build running inside the gateway, read in-process instead of over HTTP from
 * the gateway itself: a name on the gateway is routed as its {@code /v2/} routes would route it (a
 * local repository, or a mirrored name); a name on a registry the gateway mirrors goes through the
 * mirror, so it is fetched once into the store and read from there afterwards. Config and layers
 * are the store's own blob files; nothing is copied. Any other registry is left to {@code elsewhere}.
 */
public final class StoreImageSource implements ImageSource {
    private final RegistryService registry;
    private final MirrorService mirror;
    private final UpstreamRouter upstreams;
    private final List<String> gatewayHosts;
    private final boolean throughMirror;
    private final ImageSource elsewhere;

    /**
     * @param gatewayHosts  {@code host:port} names that reach this gateway
     * @param throughMirror read images of mirrored registries through the mirror; else {@code elsewhere} pulls them
     */
    public StoreImageSource(RegistryService registry, MirrorService mirror, UpstreamRouter upstreams,
                            List<String> gatewayHosts, boolean throughMirror, ImageSource elsewhere) {
        this.registry = registry;
        this.mirror = mirror;
        this.upstreams = upstreams;
        this.gatewayHosts = List.copyOf(gatewayHosts);
        this.throughMirror = throughMirror;
        this.elsewhere = elsewhere;
    }

    @Override
    public PulledImage pull(ImageReference reference, ImagePuller.Platform platform) throws IOException {
        Optional<ImagePuller.ImageReader> reader;
        try {
            reader = readerFor(reference);
        } catch (RegistryException e) {
            throw new IOException(e.getMessage(), e);
        }
        if (reader.isEmpty()) {
            return elsewhere.pull(reference, platform);
        }
        return ImagePuller.assemble(reference, platform, reader.get());
    }

    private Optional<ImagePuller.ImageReader> readerFor(ImageReference reference) {
        RepositoryName name = reference.repository();
        if (gatewayHosts.contains(reference.registry())) {
            return Optional.of(upstreams.route(name, null).map(this::mirrored).orElseGet(() -> local(name)));
        }
        if (throughMirror) {
            return upstreams.routeForRegistry(reference.registry(), name.value()).map(this::mirrored);
        }
        return Optional.empty();
    }

    private ImagePuller.ImageReader local(RepositoryName name) {
        return reader(reference -> registry.manifest(name, reference, MediaTypes.MANIFESTS),
                digest -> registry.blob(name, digest));
    }

    private ImagePuller.ImageReader mirrored(MirrorRoute route) {
        return reader(reference -> mirror.manifest(route, reference, MediaTypes.MANIFESTS).location(),
                digest -> mirror.blobFile(route, digest));
    }

    private interface Lookup<T> {
        BlobLocation find(T key) throws IOException;
    }

    /** The registry's and the mirror's answers as the puller wants them: registry errors become IOExceptions. */
    private static ImagePuller.ImageReader reader(Lookup<String> manifests, Lookup<Digest> blobs) {
        return new ImagePuller.ImageReader() {
            @Override
            public ImagePuller.FetchedManifest manifest(String reference, Digest expected) throws IOException {
                BlobLocation location = find(manifests, reference);
                if (expected != null && !expected.equals(location.digest())) {
                    throw new IOException("manifest " + reference + " is " + location.digest() + ", not " + expected);
                }
                byte[] bytes = Files.readAllBytes(location.file());
                try {
                    return new ImagePuller.FetchedManifest(location.digest(), bytes, Manifest.parse(bytes, location.mediaType()));
                } catch (InvalidManifestException e) {
                    throw new IOException("manifest " + reference + ": " + e.getMessage(), e);
                }
            }

            @Override
            public Path blob(Descriptor descriptor, String what) throws IOException {
                BlobLocation location = find(blobs, descriptor.parsedDigest());
                if (location.size() != descriptor.size()) {
                    throw new IOException(what + " is " + location.size() + " bytes in the store, but its descriptor says "
                            + descriptor.size());
                }
                return location.file();
            }
        };
    }

    private static <T> BlobLocation find(Lookup<T> lookup, T key) throws IOException {
        try {
            return lookup.find(key);
        } catch (RegistryException e) {
            throw new IOException(e.getMessage(), e);
        }
    }
}
