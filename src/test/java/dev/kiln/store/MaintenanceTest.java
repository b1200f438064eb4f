package dev.kiln.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.Digest;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.RepositoryName;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MaintenanceTest {
    static final RepositoryName REPO = new RepositoryName("local/app");

    @TempDir
    Path dir;

    Store store;

    @BeforeEach
    void setUp() throws IOException {
        store = Store.openFilesystem(dir);
    }

    Digest put(byte[] bytes) throws IOException {
        try (var writer = store.blobs().newWriter()) {
            writer.write(bytes, 0, bytes.length);
            Digest digest = writer.commit(null);
            store.metadata().linkBlob(REPO, digest);
            return digest;
        }
    }

    byte[] random(int n) {
        byte[] bytes = new byte[n];
        new Random(n).nextBytes(bytes);
        return bytes;
    }

    Digest pushImage(Digest config, Digest layer) throws IOException {
        byte[] manifest = ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" + MediaTypes.OCI_CONFIG + "\",\"digest\":\"" + config
                + "\",\"size\":1},\"layers\":[{\"mediaType\":\"" + MediaTypes.OCI_LAYER_GZIP + "\",\"digest\":\"" + layer + "\",\"size\":1}]}")
                .getBytes(StandardCharsets.UTF_8);
        Digest digest = put(manifest);
        store.metadata().linkManifest(REPO, digest, MediaTypes.OCI_MANIFEST);
        return digest;
    }

    @Test
    void gcKeepsReferencedAndRecentBlobsAndRemovesTheRest() throws IOException {
        Digest config = put(random(11));
        Digest layer = put(random(12));
        Digest manifest = pushImage(config, layer);
        Digest orphan = put(random(13));
        Clock later = Clock.fixed(Instant.now().plus(Duration.ofHours(2)), ZoneOffset.UTC);

        GarbageCollector.Report early = new GarbageCollector(store, Duration.ofHours(1), Clock.systemUTC()).run(Duration.ofHours(24));
        assertEquals(0, early.blobsRemoved(), "the grace period protects fresh blobs");

        GarbageCollector.Report report = new GarbageCollector(store, Duration.ofHours(1), later).run(Duration.ofHours(24));
        assertEquals(1, report.blobsRemoved());
        assertEquals(13, report.bytesRemoved());
        assertFalse(store.blobs().exists(orphan));
        assertFalse(store.metadata().hasBlob(REPO, orphan), "the dangling link goes with the blob");
        assertTrue(store.blobs().exists(config));
        assertTrue(store.blobs().exists(layer));
        assertTrue(store.blobs().exists(manifest));
    }

    @Test
    void gcRemovesBlobsOfDeletedManifests() throws IOException {
        Digest config = put(random(21));
        Digest layer = put(random(22));
        Digest manifest = pushImage(config, layer);
        store.metadata().unlinkManifest(REPO, manifest);
        Clock later = Clock.fixed(Instant.now().plus(Duration.ofHours(2)), ZoneOffset.UTC);
        assertEquals(3, new GarbageCollector(store, Duration.ofHours(1), later).run(Duration.ofHours(24)).blobsRemoved());
    }

    @Test
    void gcExpiresOldUploads() throws IOException {
        store.uploads().create(REPO);
        Clock later = Clock.fixed(Instant.now().plus(Duration.ofDays(2)), ZoneOffset.UTC);
        assertEquals(1, new GarbageCollector(store, Duration.ofHours(1), later).run(Duration.ofHours(24)).uploadsExpired());
        assertEquals(0, store.uploads().list().size());
    }

    @Test
    void fsckFindsAndQuarantinesACorruptBlob() throws IOException {
        Digest good = put(random(31));
        Digest bad = put(random(32));
        Path file = dir.resolve("blobs/sha256").resolve(bad.hex().substring(0, 2)).resolve(bad.hex());
        try (var channel = Files.newByteChannel(file, StandardOpenOption.WRITE)) {
            channel.write(java.nio.ByteBuffer.wrap(new byte[] {42}));
        }
        Fsck.Report report = new Fsck(store).run(true);
        assertEquals(2, report.checked());
        assertEquals(1, report.corrupt().size());
        assertTrue(report.corrupt().get(0).startsWith(bad.toString()));
        assertFalse(store.blobs().exists(bad));
        assertTrue(store.blobs().exists(good));
        try (Stream<Path> quarantined = Files.list(dir.resolve("quarantine"))) {
            assertEquals(1, quarantined.count());
        }
        assertTrue(new Fsck(store).run(true).clean());
        try (InputStream in = store.blobs().open(good, 0)) {
            assertEquals(31, in.readAllBytes().length);
        }
    }
}
