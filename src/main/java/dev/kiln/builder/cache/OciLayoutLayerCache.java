package dev.kiln.builder.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.Manifest;
import dev.kiln.oci.MediaTypes;
import dev.kiln.registry.client.BlobCache;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * {@code --cache-repo=oci:DIR}: the layer cache in an OCI image layout directory, for builds that
 * share a volume rather than a registry. Each entry is the same one-layer image a registry cache
 * holds ({@link CacheImage}), listed in {@code index.json} with the step's key as its
 * {@code org.opencontainers.image.ref.name}. Blobs are written verified and renamed into place; the
 * index is rewritten whole under a file lock, so builds sharing the directory do not lose entries.
 */
public final class OciLayoutLayerCache implements LayerCache, AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String REF_NAME = "org.opencontainers.image.ref.name";

    private final Path dir;
    private final BlobCache blobs;
    private final Duration ttl;
    private final Clock clock;
    private final Consumer<String> warn;

    public OciLayoutLayerCache(Path dir, Duration ttl, Clock clock, Consumer<String> warn) throws IOException {
        this.dir = dir;
        this.blobs = new BlobCache(dir.resolve("blobs"));
        this.ttl = ttl;
        this.clock = clock;
        this.warn = warn;
        Files.createDirectories(dir.resolve("blobs").resolve("sha256"));
        if (!Files.exists(dir.resolve("oci-layout"))) {
            writeAtomically(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes());
        }
    }

    @Override
    public Optional<CachedLayer> find(String key) {
        try {
            JsonNode entry = null;
            for (JsonNode m : readIndex().path("manifests")) {
                if (key.equals(m.path("annotations").path(REF_NAME).asText(null))) {
                    entry = m;
                }
            }
            if (entry == null) {
                return Optional.empty();
            }
            Digest digest = Digest.parse(entry.path("digest").asText());
            Manifest manifest = Manifest.parse(verified(digest), entry.path("mediaType").asText(MediaTypes.OCI_MANIFEST));
            return CacheImage.read(key, manifest, config -> verified(config.parsedDigest()), null, ttl, clock.instant(),
                    dir + ":" + key, warn);
        } catch (IOException | IllegalArgumentException | DateTimeParseException e) {
            warn.accept("cache lookup " + dir + ":" + key + " failed, treating it as a miss: " + e.getMessage());
            return Optional.empty();
        }
    }

    @Override
    public Path fetch(CachedLayer layer) throws IOException {
        Digest digest = layer.layer().parsedDigest();
        Path file = blobs.path(digest);
        // a shared directory can be written by anyone: a layer is used only if it is what its name says
        Digester digester = Digester.like(digest);
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[64 * 1024];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digester.update(buffer, 0, n);
            }
        }
        if (!digester.digest().equals(digest)) {
            throw new IOException("cache blob " + file + " does not match its digest " + digest);
        }
        return file;
    }

    @Override
    public void store(String key, Descriptor layer, Digest diffId, Path file, String createdBy, boolean empty) {
        try {
            CacheImage.Entry entry = CacheImage.of(layer, diffId, createdBy, empty, clock.instant());
            if (!blobs.contains(layer.parsedDigest())) {
                try (InputStream in = Files.newInputStream(file)) {
                    blobs.put(layer.parsedDigest(), layer.size(), in, "layer of '" + createdBy + "'");
                }
            }
            blobs.put(entry.configDescriptor().parsedDigest(), entry.config().length, new ByteArrayInputStream(entry.config()),
                    "cache config");
            Digest manifestDigest = Digest.sha256(entry.manifest());
            blobs.put(manifestDigest, entry.manifest().length, new ByteArrayInputStream(entry.manifest()), "cache manifest");
            addToIndex(key, new Descriptor(MediaTypes.OCI_MANIFEST, manifestDigest, entry.manifest().length));
        } catch (IOException | RuntimeException e) {
            warn.accept("storing the layer of '" + createdBy + "' in the cache " + dir + " failed: " + e.getMessage());
        }
    }

    private void addToIndex(String key, Descriptor manifest) throws IOException {
        try (FileChannel lockFile = FileChannel.open(dir.resolve("index.json.lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE); FileLock ignored = lockFile.lock()) {
            ObjectNode index = readIndex();
            ArrayNode kept = JSON.createArrayNode();
            for (JsonNode m : index.path("manifests")) {
                if (!key.equals(m.path("annotations").path(REF_NAME).asText(null))) {
                    kept.add(m);
                }
            }
            ObjectNode entry = kept.addObject();
            entry.put("mediaType", manifest.mediaType());
            entry.put("digest", manifest.digest());
            entry.put("size", manifest.size());
            entry.putObject("annotations").put(REF_NAME, key);
            index.set("manifests", kept);
            writeAtomically(dir.resolve("index.json"), JSON.writeValueAsBytes(index));
        }
    }

    private ObjectNode readIndex() throws IOException {
        Path file = dir.resolve("index.json");
        if (!Files.exists(file)) {
            ObjectNode index = JSON.createObjectNode();
            index.put("schemaVersion", 2);
            index.put("mediaType", MediaTypes.OCI_INDEX);
            index.putArray("manifests");
            return index;
        }
        JsonNode node = JSON.readTree(file.toFile());
        if (!(node instanceof ObjectNode object)) {
            throw new IOException(file + " is not an OCI index");
        }
        return object;
    }

    private byte[] verified(Digest digest) throws IOException {
        byte[] bytes = Files.readAllBytes(blobs.path(digest));
        if (!Digest.sha256(bytes).equals(digest)) {
            throw new IOException("blob " + digest + " in " + dir + " does not match its digest");
        }
        return bytes;
    }

    private static void writeAtomically(Path target, byte[] bytes) throws IOException {
        Path temp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".partial");
        try {
            Files.write(temp, bytes);
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    @Override
    public void flush() {
        // stores are synchronous: local files
    }

    @Override
    public dev.kiln.oci.image.ImageReference holder() {
        return null;
    }

    @Override
    public String describe() {
        return "oci:" + dir;
    }

    @Override
    public void close() {
    }
}
