package dev.kiln.builder.cache;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.Manifest;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.BlobCache;
import dev.kiln.registry.client.ImagePusher;
import dev.kiln.registry.client.PulledImage;
import dev.kiln.registry.client.Registries;
import dev.kiln.registry.client.RegistryClient;
import dev.kiln.registry.client.Retry;
import dev.kiln.registry.client.UpstreamResponse;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * The layer cache kaniko-style, in any registry: each step's layer is a one-layer image tagged
 * {@code <repo>:<key>}, whose config {@code created} says when it was built, which {@code ttl} is
 * measured against. Stores run on one background thread so a build goes on while its layers upload.
 */
public final class RegistryLayerCache implements LayerCache, AutoCloseable {
    private static final int MAX_SMALL_DOCUMENT = 1 << 20;
    private static final String ACCEPT = MediaTypes.OCI_MANIFEST + ", " + MediaTypes.DOCKER_MANIFEST;

    private final ImageReference repository;
    private final Registries registries;
    private final BlobCache blobs;
    private final Duration ttl;
    private final Clock clock;
    private final Consumer<String> warn;
    private final ExecutorService background;
    private final List<Future<?>> pending = new ArrayList<>();

    public RegistryLayerCache(ImageReference repository, Registries registries, BlobCache blobs, Duration ttl, Clock clock,
                              Consumer<String> warn) {
        this.repository = repository.withTag(null);
        this.registries = registries;
        this.blobs = blobs;
        this.ttl = ttl;
        this.clock = clock;
        this.warn = warn;
        this.background = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "kiln-cache-store");
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public Optional<CachedLayer> find(String key) {
        RegistryClient client = registries.client(repository.registry());
        String repo = repository.repository().value();
        try {
            Manifest manifest;
            try (UpstreamResponse response = client.get(repo, "/v2/" + repo + "/manifests/" + key, Map.of("Accept", ACCEPT))) {
                if (response.status() == 404) {
                    return Optional.empty();
                }
                if (response.status() != 200) {
                    throw client.failure(response, "cache manifest " + repo + ":" + key);
                }
                manifest = Manifest.parse(readSmall(response.body()), response.contentType());
            }
            return CacheImage.read(key, manifest, config -> Files.readAllBytes(fetchBlob(client, repo, config)), repository,
                    ttl, clock.instant(), repo + ":" + key, warn);
        } catch (IOException | IllegalArgumentException | DateTimeParseException e) {
            warn.accept("cache lookup " + repo + ":" + key + " failed, treating it as a miss: " + e.getMessage());
            return Optional.empty();
        }
    }

    @Override
    public Path fetch(CachedLayer layer) throws IOException {
        RegistryClient client = registries.client(layer.holder().registry());
        return fetchBlob(client, layer.holder().repository().value(), layer.layer());
    }

    @Override
    public synchronized void store(String key, Descriptor layer, Digest diffId, Path file, String createdBy, boolean empty) {
        pending.add(background.submit(() -> {
            try {
                push(key, layer, diffId, file, createdBy, empty);
            } catch (IOException | RuntimeException e) {
                warn.accept("storing the layer of '" + createdBy + "' in the cache " + repository + " failed: " + e.getMessage());
            }
        }));
    }

    private void push(String key, Descriptor layer, Digest diffId, Path file, String createdBy, boolean empty)
            throws IOException {
        CacheImage.Entry entry = CacheImage.of(layer, diffId, createdBy, empty, clock.instant());
        Path configFile = Files.createTempFile("kiln-cache-config-", ".json");
        try {
            Files.write(configFile, entry.config());
            List<PulledImage.Blob> blobList = List.of(new PulledImage.Blob(entry.configDescriptor(), configFile),
                    new PulledImage.Blob(layer, file));
            new ImagePusher(registries, Retry.NONE).push(new ImagePusher.Image(entry.manifest(), MediaTypes.OCI_MANIFEST,
                    blobList), List.of(repository.withTag(key)));
        } finally {
            Files.deleteIfExists(configFile);
        }
    }

    @Override
    public void flush() {
        List<Future<?>> waiting;
        synchronized (this) {
            waiting = new ArrayList<>(pending);
            pending.clear();
        }
        for (Future<?> f : waiting) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (ExecutionException e) {
                warn.accept("cache store failed: " + e.getCause());
            }
        }
    }

    @Override
    public ImageReference holder() {
        return repository;
    }

    @Override
    public String describe() {
        return repository.registry() + "/" + repository.repository();
    }

    @Override
    public void close() {
        flush();
        background.shutdownNow();
    }

    private Path fetchBlob(RegistryClient client, String repo, Descriptor descriptor) throws IOException {
        Digest digest = descriptor.parsedDigest();
        if (blobs.contains(digest)) {
            return blobs.path(digest);
        }
        try (UpstreamResponse response = client.get(repo, "/v2/" + repo + "/blobs/" + digest, Map.of())) {
            if (response.status() != 200) {
                throw client.failure(response, "cache blob " + repo + "@" + digest);
            }
            try (InputStream body = response.body()) {
                return blobs.put(digest, descriptor.size(), body, "cache blob " + digest);
            }
        }
    }

    private static byte[] readSmall(InputStream in) throws IOException {
        byte[] bytes = in.readNBytes(MAX_SMALL_DOCUMENT + 1);
        if (bytes.length > MAX_SMALL_DOCUMENT) {
            throw new IOException("cache manifest larger than " + MAX_SMALL_DOCUMENT + " bytes");
        }
        return bytes;
    }
}
