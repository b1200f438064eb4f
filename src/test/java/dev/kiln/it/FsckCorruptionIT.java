package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Http;
import dev.kiln.testkit.TestImages;
import java.io.RandomAccessFile;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A byte flipped on disk: fsck finds it, names it, quarantines it, and the server stops serving it. */
class FsckCorruptionIT {
    private static final String REPO = "local/fsck";

    @TempDir
    Path work;

    @Test
    void fsckQuarantinesACorruptBlobAndTheServerNoLongerServesIt() throws Exception {
        Path store = work.resolve("store");
        byte[] victim = new byte[300_000];
        byte[] bystander = new byte[200_000];
        Random random = new Random(7);
        random.nextBytes(victim);
        random.nextBytes(bystander);
        String victimDigest = TestImages.sha256(victim);
        String bystanderDigest = TestImages.sha256(bystander);

        KilnProcess kiln = KilnProcess.start("fsck", store);
        try {
            Http http = Http.at(kiln.baseUrl());
            assertEquals(201, http.monolithic(REPO, victim).statusCode());
            assertEquals(201, http.chunked(REPO, bystander, 64 * 1024).statusCode());
        } finally {
            kiln.stop();
        }

        ExecResult clean = KilnProcess.fsck(store);
        assertEquals(0, clean.exitCode(), clean.output());
        assertTrue(clean.stdout().contains("checked 2 blobs"), clean.output());

        Path file = store.resolve("blobs/sha256").resolve(victimDigest.substring(7, 9)).resolve(victimDigest.substring(7));
        assertTrue(Files.isRegularFile(file), "the blob lives at " + file);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(123_456);
            int b = raf.read();
            raf.seek(123_456);
            raf.write(b ^ 0x01);
        }

        ExecResult first = KilnProcess.fsck(store);
        assertEquals(1, first.exitCode(), first.output());
        assertTrue(first.stdout().contains("corrupt " + victimDigest), first.output());
        assertFalse(first.stdout().contains(bystanderDigest), first.output());
        assertFalse(Files.exists(file), "the corrupt blob left blobs/");
        try (Stream<Path> quarantined = Files.list(store.resolve("quarantine"))) {
            List<String> names = quarantined.map(p -> p.getFileName().toString()).toList();
            assertEquals(1, names.size(), names.toString());
            assertTrue(names.get(0).contains(victimDigest.substring(7)), names.toString());
        }

        ExecResult second = KilnProcess.fsck(store);
        assertEquals(0, second.exitCode(), second.output());
        assertTrue(second.stdout().contains("checked 1 blobs"), second.output());

        // gc keeps the young bystander and drops the repository's link to the quarantined blob.
        ExecResult gc = KilnProcess.gc(store);
        assertEquals(0, gc.exitCode(), gc.output());
        assertTrue(gc.stdout().contains("removed 0 blobs"), gc.output());
        assertTrue(gc.stdout().contains("kept 1;"), gc.output());
        assertTrue(gc.stdout().contains("removed 1 dangling links"), gc.output());

        KilnProcess restarted = kiln.restart();
        try {
            Http http = Http.at(restarted.baseUrl());
            assertEquals(404, http.head("v2/" + REPO + "/blobs/" + victimDigest).statusCode());
            HttpResponse<byte[]> gone = http.getBlob(REPO, victimDigest);
            assertEquals(404, gone.statusCode());
            HttpResponse<byte[]> kept = http.getBlob(REPO, bystanderDigest);
            assertEquals(200, kept.statusCode());
            assertEquals(bystanderDigest, TestImages.sha256(kept.body()));
            // Pushing the good bytes again heals the repository.
            assertEquals(201, http.monolithic(REPO, victim).statusCode());
            assertEquals(victimDigest, TestImages.sha256(http.getBlob(REPO, victimDigest).body()));
        } finally {
            restarted.stop();
        }
    }
}
