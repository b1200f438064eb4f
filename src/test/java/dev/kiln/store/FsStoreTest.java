package dev.kiln.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.Digest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class FsStoreTest extends StoreContract {
    @Override
    Store open(Path dir) throws IOException {
        return Store.openFilesystem(dir);
    }

    @Test
    void blobsLiveAtTheDocumentedPath() throws IOException {
        Digest digest = put(random(10, 20));
        assertTrue(Files.isRegularFile(dir.resolve("blobs/sha256").resolve(digest.hex().substring(0, 2)).resolve(digest.hex())));
    }

    @Test
    void blobsAreServedAsRegionsOfTheirFilesForZeroCopySends() throws IOException {
        byte[] bytes = random(1000, 24);
        Digest digest = put(bytes);
        BlobBody.FileRegion region = org.junit.jupiter.api.Assertions.assertInstanceOf(BlobBody.FileRegion.class,
                store.blobs().body(digest, 10, 90));
        assertEquals(store.blobs().readableFile(digest), region.file());
        assertEquals(10, region.offset());
        assertEquals(90, region.length());
    }

    @Test
    void nothingIsLeftInTmpAfterCommits() throws IOException {
        put(random(10, 21));
        try (Stream<Path> files = Files.list(dir.resolve("tmp"))) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void aFileOnTheStoresFilesystemIsHardLinkedNotCopied() throws IOException {
        byte[] bytes = random(100_000, 22);
        Path file = Files.write(dir.resolve("layer.tar.gz"), bytes);
        Digest digest = Digest.sha256(bytes);
        assertTrue(store.blobs().insert(file, digest));
        Path blob = store.blobs().readableFile(digest);
        assertTrue(Files.isSameFile(file, blob), "one inode, two names");
        assertEquals(2, Files.getAttribute(blob, "unix:nlink"));
        Files.delete(file);
        assertEquals(bytes.length, Files.size(blob), "the blob outlives the build's name for it");
        try (Stream<Path> files = Files.list(dir.resolve("tmp"))) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void aFileOnAnotherFilesystemIsCopied() throws IOException {
        Path shm = Path.of("/dev/shm");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(shm)
                && !Files.getFileStore(shm).equals(Files.getFileStore(dir)), "needs a second filesystem at /dev/shm");
        byte[] bytes = random(100_000, 23);
        Path file = Files.write(Files.createTempFile(shm, "kiln-layer", ".tar.gz"), bytes);
        try {
            Digest digest = Digest.sha256(bytes);
            assertTrue(store.blobs().insert(file, digest));
            Path blob = store.blobs().readableFile(digest);
            assertEquals(1, Files.getAttribute(blob, "unix:nlink"));
            assertEquals(Digest.sha256(Files.readAllBytes(blob)), digest);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void staleTempFilesOfDeadWritersAreRemoved() throws IOException {
        Path stale = Files.writeString(dir.resolve("tmp/abandoned"), "x");
        Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minus(Duration.ofDays(1))));
        Path fresh = Files.writeString(dir.resolve("tmp/in-progress"), "x");
        assertEquals(1, store.blobs().removeStaleTempFiles(Duration.ofHours(1)));
        assertTrue(Files.exists(fresh));
    }
}
