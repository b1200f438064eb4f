package dev.kiln.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.RepositoryName;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The behaviour every store backend must have; each backend's test class extends this. */
abstract class StoreContract extends ReplicaSafetyContract {
    static final RepositoryName REPO = new RepositoryName("local/app");

    @TempDir
    Path dir;

    Store store;

    /** Opens the backend on {@code dir}; opening twice on the same dir must see the same content. */
    abstract Store open(Path dir) throws IOException;

    @Override
    Store store() {
        return store;
    }

    @BeforeEach
    void setUp() throws IOException {
        store = open(dir);
    }

    static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    static InputStream in(byte[] bytes) {
        return new ByteArrayInputStream(bytes);
    }

    Digest put(byte[] bytes) throws IOException {
        try (BlobWriter writer = store.blobs().newWriter()) {
            writer.write(in(bytes));
            return writer.commit(Digest.sha256(bytes));
        }
    }

    @Test
    void committedBlobIsReadableByDigest() throws IOException {
        byte[] bytes = random(700_000, 1);
        Digest digest = put(bytes);
        assertEquals(Digest.sha256(bytes), digest);
        assertEquals(bytes.length, store.blobs().stat(digest).orElseThrow().size());
        try (InputStream in = store.blobs().open(digest, 0)) {
            assertArrayEquals(bytes, in.readAllBytes());
        }
        try (InputStream in = store.blobs().open(digest, 100)) {
            assertEquals(bytes.length - 100, in.readAllBytes().length);
        }
    }

    @Test
    void aFileIsInsertedOnlyWhenItMatchesItsDigestAndLeftAsItWas() throws IOException {
        byte[] bytes = random(300_000, 40);
        Path file = java.nio.file.Files.write(dir.resolveSibling(dir.getFileName() + "-layer"), bytes);
        try {
            Digest wrong = Digest.sha256("other".getBytes(StandardCharsets.UTF_8));
            assertThrows(DigestMismatchException.class, () -> store.blobs().insert(file, wrong));
            assertFalse(store.blobs().exists(wrong));

            Digest digest = Digest.sha256(bytes);
            assertTrue(store.blobs().insert(file, digest));
            assertFalse(store.blobs().insert(file, digest), "a blob already there is not inserted again");
            try (InputStream in = store.blobs().open(digest, 0)) {
                assertArrayEquals(bytes, in.readAllBytes());
            }
            assertArrayEquals(bytes, java.nio.file.Files.readAllBytes(file));
        } finally {
            java.nio.file.Files.deleteIfExists(file);
        }
    }

    @Test
    void mismatchedContentIsNeverVisible() throws IOException {
        byte[] bytes = random(1000, 2);
        Digest claimed = Digest.sha256("something else".getBytes(StandardCharsets.UTF_8));
        try (BlobWriter writer = store.blobs().newWriter()) {
            writer.write(in(bytes));
            assertThrows(DigestMismatchException.class, () -> writer.commit(claimed));
        }
        assertFalse(store.blobs().exists(claimed));
        assertFalse(store.blobs().exists(Digest.sha256(bytes)));
        assertThrows(BlobNotFoundException.class, () -> store.blobs().open(claimed, 0));
    }

    @Test
    void abandonedWriterLeavesNothing() throws IOException {
        byte[] bytes = random(1000, 3);
        try (BlobWriter writer = store.blobs().newWriter()) {
            writer.write(in(bytes));
        }
        assertFalse(store.blobs().exists(Digest.sha256(bytes)));
        List<BlobInfo> all = new ArrayList<>();
        store.blobs().forEach(all::add);
        assertTrue(all.isEmpty());
    }

    @Test
    void writingTheSameContentTwiceKeepsOneBlob() throws IOException {
        byte[] bytes = random(5000, 4);
        put(bytes);
        put(bytes);
        List<BlobInfo> all = new ArrayList<>();
        store.blobs().forEach(all::add);
        assertEquals(1, all.size());
    }

    @Test
    void sha512DigestsAreVerifiedToo() throws IOException {
        byte[] bytes = random(3000, 5);
        Digest sha512 = Digester.forAlgorithm("sha512").update(bytes).digest();
        try (BlobWriter writer = store.blobs().newWriter()) {
            writer.write(in(bytes));
            assertEquals(sha512, writer.commit(sha512));
        }
        assertTrue(store.blobs().exists(sha512));
    }

    @Test
    void deleteRemovesTheBlob() throws IOException {
        Digest digest = put(random(10, 6));
        assertTrue(store.blobs().delete(digest));
        assertFalse(store.blobs().exists(digest));
        assertFalse(store.blobs().delete(digest));
    }

    @Test
    void chunkedUploadBecomesABlob() throws IOException {
        byte[] bytes = random(3 * 1024 * 1024 + 17, 7);
        UploadSession session = store.uploads().create(REPO);
        int half = bytes.length / 2;
        assertEquals(half, store.uploads().append(session.id(), new ByteArrayInputStream(bytes, 0, half), 0).size());
        assertEquals(bytes.length, store.uploads().append(session.id(), new ByteArrayInputStream(bytes, half, bytes.length - half), half).size());
        Digest digest = store.uploads().commit(session.id(), Digest.sha256(bytes));
        try (InputStream in = store.blobs().open(digest, 0)) {
            assertArrayEquals(bytes, in.readAllBytes());
        }
        assertTrue(store.uploads().find(session.id()).isEmpty());
    }

    @Test
    void outOfOrderChunkIsRefusedAndChangesNothing() throws IOException {
        UploadSession session = store.uploads().create(REPO);
        store.uploads().append(session.id(), in(random(100, 8)), 0);
        UploadOffsetException e = assertThrows(UploadOffsetException.class,
                () -> store.uploads().append(session.id(), in(random(100, 9)), 50));
        assertEquals(100, e.currentSize());
        assertEquals(100, store.uploads().find(session.id()).orElseThrow().size());
    }

    @Test
    void uploadResumesAfterTheStoreIsReopened() throws IOException {
        byte[] bytes = random(400_000, 10);
        UploadSession session = store.uploads().create(REPO);
        store.uploads().append(session.id(), new ByteArrayInputStream(bytes, 0, 150_000), 0);
        Store reopened = open(dir);
        assertEquals(150_000, reopened.uploads().find(session.id()).orElseThrow().size());
        reopened.uploads().append(session.id(), new ByteArrayInputStream(bytes, 150_000, 250_000), 150_000);
        assertEquals(Digest.sha256(bytes), reopened.uploads().commit(session.id(), Digest.sha256(bytes)));
    }

    @Test
    void uploadWithWrongDigestIsDiscarded() throws IOException {
        UploadSession session = store.uploads().create(REPO);
        byte[] bytes = random(1000, 11);
        store.uploads().append(session.id(), in(bytes), -1);
        Digest wrong = Digest.sha256(new byte[1]);
        assertThrows(DigestMismatchException.class, () -> store.uploads().commit(session.id(), wrong));
        assertFalse(store.blobs().exists(wrong));
        assertFalse(store.blobs().exists(Digest.sha256(bytes)));
        assertTrue(store.uploads().find(session.id()).isEmpty());
    }

    @Test
    void unknownUploadIdsAreNotFound() throws IOException {
        assertTrue(store.uploads().find("../../blobs").isEmpty());
        assertTrue(store.uploads().find("00000000-0000-0000-0000-000000000000").isEmpty());
        assertThrows(UploadNotFoundException.class, () -> store.uploads().append("nope", in(new byte[1]), -1));
    }

    @Test
    void expireRemovesIdleSessionsOnly() throws IOException {
        UploadSession old = store.uploads().create(REPO);
        assertEquals(0, store.uploads().expire(Instant.now().minusSeconds(60)));
        assertEquals(1, store.uploads().expire(Instant.now().plusSeconds(60)));
        assertTrue(store.uploads().find(old.id()).isEmpty());
    }

    @Test
    void cancelRemovesTheSession() throws IOException {
        UploadSession session = store.uploads().create(REPO);
        assertTrue(store.uploads().cancel(session.id()));
        assertFalse(store.uploads().cancel(session.id()));
        assertEquals(List.of(), store.uploads().list());
    }

    @Test
    void metadataLinksTagsAndReferrers() throws IOException {
        Digest blob = put(random(10, 12));
        Digest manifest = put("{}".getBytes(StandardCharsets.UTF_8));
        MetadataStore meta = store.metadata();
        meta.linkBlob(REPO, blob);
        assertTrue(meta.hasBlob(REPO, blob));
        assertFalse(meta.hasBlob(new RepositoryName("local/other"), blob));
        meta.linkManifest(REPO, manifest, MediaTypes.OCI_MANIFEST);
        assertEquals(MediaTypes.OCI_MANIFEST, meta.manifestMediaType(REPO, manifest).orElseThrow());
        meta.tag(REPO, "v2", manifest);
        meta.tag(REPO, "v10", manifest);
        meta.tag(REPO, "latest", manifest);
        assertEquals(List.of("latest", "v10", "v2"), meta.tags(REPO));
        assertEquals(manifest, meta.resolveTag(REPO, "v2").orElseThrow());
        assertTrue(meta.untag(REPO, "v2"));
        assertTrue(meta.resolveTag(REPO, "v2").isEmpty());

        Descriptor referrer = new Descriptor(MediaTypes.OCI_MANIFEST, blob.toString(), 10, "application/x-sig", Map.of("k", "v"), null, null);
        meta.addReferrer(REPO, manifest, referrer);
        assertEquals(List.of(referrer), meta.referrers(REPO, manifest));
        assertTrue(meta.removeReferrer(REPO, manifest, blob));
        assertEquals(List.of(), meta.referrers(REPO, manifest));

        assertTrue(meta.unlinkManifest(REPO, manifest));
        assertTrue(meta.manifestMediaType(REPO, manifest).isEmpty());
    }

    @Test
    void nestedRepositoriesAreListedSeparately() throws IOException {
        Digest blob = put(random(10, 13));
        store.metadata().linkBlob(new RepositoryName("local/a"), blob);
        store.metadata().linkBlob(new RepositoryName("local/a/b"), blob);
        store.metadata().linkBlob(new RepositoryName("cache/z"), blob);
        assertEquals(List.of("cache/z", "local/a", "local/a/b"),
                store.metadata().repositories().stream().map(RepositoryName::value).toList());
    }
}
