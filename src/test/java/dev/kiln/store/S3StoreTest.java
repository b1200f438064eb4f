package dev.kiln.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.MotoS3;
import dev.kiln.oci.Digest;
import dev.kiln.store.s3.S3Settings;
import dev.kiln.store.s3.S3Store;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * The store contract against an S3 bucket on moto_server (moto is not S3, but it speaks its protocol,
 * checks signatures and keeps multipart rules such as the 5 MiB minimum part). Each test gets its own
 * key prefix in one bucket, named after its temp dir, so reopening "the same dir" sees the same objects.
 */
class S3StoreTest extends StoreContract {
    static final String BUCKET = "kiln-store";

    @TempDir
    static Path motoDir;

    static MotoS3 moto;
    static StaticCredentialsProvider credentials;

    @BeforeAll
    static void startMoto() throws Exception {
        moto = MotoS3.start(motoDir, BUCKET);
        credentials = moto.credentials();
    }

    @AfterAll
    static void stopMoto() {
        if (moto != null) {
            moto.close();
        }
    }

    static Store open(Path local, String prefix, boolean redirect, long cacheBytes) throws IOException {
        S3Settings settings = S3Settings.parse("s3://" + BUCKET + "/" + prefix, Optional.of(URI.create(moto.endpoint())), "us-east-1",
                true, redirect, local, cacheBytes);
        return S3Store.open(settings, credentials);
    }

    @Override
    Store open(Path dir) throws IOException {
        return open(dir, prefixFor(dir), false, 1L << 30);
    }

    static String prefixFor(Path dir) {
        return "t" + Integer.toHexString(dir.toString().hashCode());
    }

    /** Another replica: its own disk, the same bucket and prefix. */
    Store replica(String name) throws IOException {
        return open(Files.createDirectories(dir.resolveSibling(dir.getFileName() + "-" + name)), prefixFor(dir), false, 1L << 30);
    }

    @Test
    void chunksSmallerThanAPartBecomeOneMultipartBlob() throws IOException {
        int mib = 1024 * 1024;
        byte[] bytes = random(11 * mib + 5, 30);
        UploadSession session = store.uploads().create(REPO);
        int[] chunks = {3 * mib, 3 * mib, 4 * mib, 1, mib + 4}; // 6 MiB fills a part only after the second PATCH
        int offset = 0;
        for (int chunk : chunks) {
            assertEquals(offset + chunk, store.uploads().append(session.id(), new ByteArrayInputStream(bytes, offset, chunk), offset).size());
            offset += chunk;
        }
        Digest digest = store.uploads().commit(session.id(), Digest.sha256(bytes));
        try (InputStream in = store.blobs().open(digest, 0)) {
            assertArrayEquals(bytes, in.readAllBytes());
        }
        assertEquals(List.of(), store.uploads().list());
    }

    @Test
    void chunksOfOneUploadMayReachDifferentReplicas() throws IOException {
        int mib = 1024 * 1024;
        byte[] bytes = random(7 * mib + 3, 31);
        Store a = store;
        Store b = replica("b");
        Store c = replica("c");
        UploadSession session = a.uploads().create(REPO);
        b.uploads().append(session.id(), new ByteArrayInputStream(bytes, 0, 2 * mib), 0);
        c.uploads().append(session.id(), new ByteArrayInputStream(bytes, 2 * mib, 4 * mib), 2 * mib);
        assertEquals(6 * mib, a.uploads().find(session.id()).orElseThrow().size());
        assertThrows(UploadOffsetException.class, () -> a.uploads().append(session.id(), new ByteArrayInputStream(bytes, 0, 1), 0));
        a.uploads().append(session.id(), new ByteArrayInputStream(bytes, 6 * mib, bytes.length - 6 * mib), 6 * mib);
        Digest wrong = Digest.sha256(new byte[] {1});
        UploadSession other = c.uploads().create(REPO);
        a.uploads().append(other.id(), new ByteArrayInputStream(bytes, 0, 100), 0);
        assertThrows(DigestMismatchException.class, () -> b.uploads().commit(other.id(), wrong),
                "a replica that saw none of the bytes verifies them by reading the object back");
        assertFalse(a.blobs().exists(wrong));

        Digest digest = b.uploads().commit(session.id(), Digest.sha256(bytes));
        try (InputStream in = c.blobs().open(digest, 0)) {
            assertArrayEquals(bytes, in.readAllBytes());
        }
    }

    @Test
    void aReadTouchesAFreshBlobWithoutCopyingIt() throws Exception {
        Digest digest = put(random(64 * 1024, 32));
        java.time.Instant written = store.blobs().stat(digest).orElseThrow().lastModified();
        Thread.sleep(1100); // S3 times have a one-second resolution
        store.blobs().touchRead(store.blobs().stat(digest).orElseThrow());
        assertEquals(written, store.blobs().stat(digest).orElseThrow().lastModified(),
                "a mirror hit on a blob modified within the last minute copies nothing");
        store.blobs().touch(digest);
        java.time.Instant touched = store.blobs().stat(digest).orElseThrow().lastModified();
        assertTrue(touched.isAfter(written), "a push's touch renews the time");
        Thread.sleep(1100);
        store.blobs().touchRead(new dev.kiln.store.BlobInfo(digest, 1, touched.minus(java.time.Duration.ofHours(1))));
        assertTrue(store.blobs().stat(digest).orElseThrow().lastModified().isAfter(touched), "a blob last modified long ago is touched");
    }

    @Test
    void aTagWrittenOnOneReplicaIsReadOnAnother() throws IOException {
        Digest manifest = put("{}".getBytes());
        store.metadata().linkManifest(REPO, manifest, "application/vnd.oci.image.manifest.v1+json");
        store.metadata().tag(REPO, "v1", manifest);
        Store other = replica("b");
        assertEquals(manifest, other.metadata().resolveTag(REPO, "v1").orElseThrow());
        assertEquals(List.of("v1"), other.metadata().tags(REPO));
        assertTrue(other.blobs().exists(manifest));
    }

    @Test
    void aColdReadStreamsFromTheBucketAndFillsTheCacheOnlyWithVerifiedBytes() throws IOException {
        byte[] bytes = random(300_000, 32);
        Digest digest = put(bytes);
        Store cold = replica("cold");
        BlobBody first = cold.blobs().body(digest, 0, bytes.length);
        BlobBody.Stream stream = assertInstanceOf(BlobBody.Stream.class, first, "nothing on this replica's disk yet");
        try (InputStream in = stream.in()) {
            assertArrayEquals(bytes, in.readAllBytes());
        }
        BlobBody.FileRegion region = assertInstanceOf(BlobBody.FileRegion.class, cold.blobs().body(digest, 10, 100),
                "the first read left a verified copy to send with zero copy");
        assertArrayEquals(bytes, Files.readAllBytes(region.file()));

        Store stopped = replica("stopped");
        try (InputStream in = ((BlobBody.Stream) stopped.blobs().body(digest, 0, bytes.length)).in()) {
            in.readNBytes(1000); // a client that goes away early
        }
        assertInstanceOf(BlobBody.Stream.class, stopped.blobs().body(digest, 0, bytes.length), "a partial read is not cached");
    }

    @Test
    void aBlobRelayedThroughAReplicaIsKeptOnItsDiskOnlyWhenAllItsBytesVerify() throws IOException {
        byte[] bytes = random(200_000, 33);
        Digest digest = put(bytes); // the owner wrote it to the bucket while relaying it
        Store asker = replica("asker");
        try (InputStream in = asker.blobs().keepingRelayedCopy(new ByteArrayInputStream(bytes), digest, bytes.length)) {
            assertArrayEquals(bytes, in.readAllBytes());
        }
        BlobBody.FileRegion region = assertInstanceOf(BlobBody.FileRegion.class, asker.blobs().body(digest, 0, bytes.length),
                "the relayed bytes are served from this replica's disk next time");
        assertArrayEquals(bytes, Files.readAllBytes(region.file()));

        Store fooled = replica("fooled");
        byte[] wrong = bytes.clone();
        wrong[wrong.length - 1] ^= 1;
        try (InputStream in = fooled.blobs().keepingRelayedCopy(new ByteArrayInputStream(wrong), digest, wrong.length)) {
            in.readAllBytes();
        }
        Store partial = replica("partial");
        try (InputStream in = partial.blobs().keepingRelayedCopy(new ByteArrayInputStream(bytes), digest, bytes.length)) {
            in.readNBytes(1000);
        }
        for (Store replica : List.of(fooled, partial)) {
            assertInstanceOf(BlobBody.Stream.class, replica.blobs().body(digest, 0, bytes.length), "wrong or partial bytes are not kept");
        }
    }

    @Test
    void redirectsGoToAPresignedUrlThatServesTheBlob() throws Exception {
        byte[] bytes = random(50_000, 33);
        Digest digest = put(bytes);
        Store redirecting = open(Files.createDirectories(dir.resolveSibling(dir.getFileName() + "-r")), prefixFor(dir), true, 1L << 30);
        BlobBody.Redirect redirect = assertInstanceOf(BlobBody.Redirect.class, redirecting.blobs().body(digest, 0, bytes.length));
        HttpResponse<byte[]> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(redirect.url())).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, response.statusCode(), () -> new String(response.body()) + "\n" + moto.logTail());
        assertArrayEquals(bytes, response.body());
    }

    @Test
    void theCacheStaysWithinItsBudget() throws IOException {
        Store small = open(Files.createDirectories(dir.resolveSibling(dir.getFileName() + "-small")), prefixFor(dir), false, 250_000);
        List<Digest> digests = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            digests.add(put(random(100_000, 40 + i)));
        }
        Path cacheDir = dir.resolveSibling(dir.getFileName() + "-small").resolve("blob-cache");
        for (Digest digest : digests) {
            small.blobs().readableFile(digest);
            // older than the minute a file in use is kept for
            try (var files = Files.list(cacheDir)) {
                for (Path file : (Iterable<Path>) files::iterator) {
                    Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 3_600_000));
                }
            }
        }
        long used;
        try (var files = Files.list(cacheDir)) {
            used = files.mapToLong(f -> f.toFile().length()).sum();
        }
        assertTrue(used <= 250_000, "cache holds " + used + " bytes");
        assertTrue(used > 0);
    }

    @Test
    void aMissingBucketIsRefusedAtOpen() {
        StoreNotUsableException e = assertThrows(StoreNotUsableException.class, () -> S3Store.open(S3Settings.parse("s3://no-such-bucket",
                Optional.of(URI.create(moto.endpoint())), "us-east-1", true, false, dir.resolve("x"), 1000), credentials));
        assertTrue(e.getMessage().contains("s3://no-such-bucket"), e.getMessage());
    }
}
