package dev.kiln.builder.gateway;

import dev.kiln.builder.cache.CacheImage;
import dev.kiln.builder.cache.CachedLayer;
import dev.kiln.builder.cache.LayerCache;
import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.InvalidManifestException;
import dev.kiln.oci.Manifest;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.RepositoryName;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.ImagePusher;
import dev.kiln.registry.client.PulledImage;
import dev.kiln.registry.server.BlobLocation;
import dev.kiln.registry.server.RegistryService;
import dev.kiln.registry.spec.RegistryException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The layer cache of a build running inside the gateway, kept in the gateway's own store in the
 * format {@link CacheImage} describes (so {@code kiln build --cache-repo <gateway>/cache/…} reads the
 * same entries): a lookup reads the tag from the metadata store, a hit's layer is already a store
 * file, and storing a layer writes its one-layer image through the build's {@link StoreImageSink}.
 */
public final class StoreLayerCache implements LayerCache {
    private static final List<String> ACCEPT = List.of(MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST);
    /** The registry part of the cache's name when the gateway's own {@code host:port} is not known. */
    static final String UNNAMED_GATEWAY = "kiln.invalid";

    private final RegistryService registry;
    private final ImageReference repository;
    private final StoreImageSink sink;
    private final Duration ttl;
    private final Clock clock;
    private final Consumer<String> warn;

    /**
     * @param repository the cache repository as the gateway names it ({@code host:port/cache/…}), so
     *                   destinations on the gateway see it as theirs
     * @param ttl        entries older than this are misses; null for no limit
     */
    public StoreLayerCache(RegistryService registry, ImageReference repository, StoreImageSink sink, Duration ttl, Clock clock,
                           Consumer<String> warn) {
        this.registry = registry;
        this.repository = repository.withTag(null);
        this.sink = sink;
        this.ttl = ttl;
        this.clock = clock;
        this.warn = warn;
    }

    @Override
    public Optional<CachedLayer> find(String key) {
        RepositoryName name = repository.repository();
        String where = name + ":" + key;
        try {
            Optional<Digest> tagged = registry.store().metadata().resolveTag(name, key);
            if (tagged.isEmpty()) {
                return Optional.empty();
            }
            BlobLocation location = registry.manifest(name, tagged.get().toString(), ACCEPT);
            Manifest manifest = Manifest.parse(Files.readAllBytes(location.file()), location.mediaType());
            Optional<CachedLayer> found = CacheImage.read(key, manifest,
                    config -> Files.readAllBytes(registry.blob(name, config.parsedDigest()).file()), repository, ttl,
                    clock.instant(), where, warn);
            if (found.isPresent()) {
                registry.blob(name, found.get().layer().parsedDigest()); // the layer itself must be there too
            }
            return found;
        } catch (IOException | RegistryException | InvalidManifestException | DateTimeParseException e) {
            warn.accept("cache lookup " + where + " failed, treating it as a miss: " + e.getMessage());
            return Optional.empty();
        }
    }

    @Override
    public Path fetch(CachedLayer layer) throws IOException {
        try {
            return registry.blob(layer.holder().repository(), layer.layer().parsedDigest()).file();
        } catch (RegistryException e) {
            throw new IOException("cached layer " + layer.layer().digest() + ": " + e.getMessage(), e);
        }
    }

    /** At once rather than in the background: in the store it is a link and a hash of a file just written. */
    @Override
    public void store(String key, Descriptor layer, Digest diffId, Path file, String createdBy, boolean empty) {
        CacheImage.Entry entry = CacheImage.of(layer, diffId, createdBy, empty, clock.instant());
        Path configFile = null;
        try {
            configFile = Files.createTempFile(file.getParent(), "cache-config-", ".json");
            Files.write(configFile, entry.config());
            List<PulledImage.Blob> blobs = List.of(new PulledImage.Blob(entry.configDescriptor(), configFile),
                    new PulledImage.Blob(layer, file));
            sink.intoStore(new ImagePusher.Image(entry.manifest(), MediaTypes.OCI_MANIFEST, blobs), repository.withTag(key),
                    blob -> {
                        throw new IOException("blob " + blob.digest() + " has no file");
                    });
        } catch (IOException | RuntimeException e) {
            warn.accept("storing the layer of '" + createdBy + "' in the cache " + describe() + " failed: " + e.getMessage());
        } finally {
            if (configFile != null) {
                try {
                    Files.deleteIfExists(configFile);
                } catch (IOException ignored) {
                    // it goes with the build dir
                }
            }
        }
    }

    @Override
    public void flush() {
        // every store finished when it returned
    }

    @Override
    public ImageReference holder() {
        return repository;
    }

    @Override
    public String describe() {
        return repository.repository() + " in the gateway's store";
    }
}
