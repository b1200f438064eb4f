package dev.kiln.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.Digest;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.RepositoryName;
import dev.kiln.registry.server.NamespacePolicy;
import dev.kiln.registry.server.RegistryService;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import dev.kiln.testkit.LockRace;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * What several replicas of one store rely on, for every backend: garbage collection that a
 * concurrent push cannot outrun, the GC lock, and tags under concurrent writers. The collector runs
 * with a clock two hours ahead, so the pushes' own touches (at the real time) are older than its
 * cutoff: only the sweep's protocol can keep their blobs.
 */
abstract class ReplicaSafetyContract {
    static final RepositoryName APP = new RepositoryName("local/race");

    abstract Store store();

    private RegistryService registry() {
        return new RegistryService(store(), new NamespacePolicy(List.of("local")));
    }

    private Digest blob(long seed) throws IOException {
        byte[] bytes = new byte[100];
        new Random(seed).nextBytes(bytes);
        try (BlobWriter writer = store().blobs().newWriter()) {
            writer.write(bytes, 0, bytes.length);
            Digest digest = writer.commit(null);
            store().metadata().linkBlob(APP, digest);
            return digest;
        }
    }

    private static byte[] manifest(Digest config, Digest layer) {
        return ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":{\"mediaType\":\""
                + MediaTypes.OCI_CONFIG + "\",\"digest\":\"" + config + "\",\"size\":100},\"layers\":[{\"mediaType\":\""
                + MediaTypes.OCI_LAYER_GZIP + "\",\"digest\":\"" + layer + "\",\"size\":100}]}").getBytes(StandardCharsets.UTF_8);
    }

    private GarbageCollector laterCollector() {
        return new GarbageCollector(store(), Duration.ofHours(1), Clock.fixed(Instant.now().plus(Duration.ofHours(2)), ZoneOffset.UTC));
    }

    private void push(String tag, Digest config, Digest layer) {
        try {
            registry().putManifest(APP, tag, MediaTypes.OCI_MANIFEST, manifest(config, layer));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void aManifestPushedAfterTheMarkKeepsItsBlobs() throws IOException {
        Digest config = blob(1);
        Digest layer = blob(2);
        Digest orphan = blob(3);

        GarbageCollector.Report report = laterCollector().hooks(() -> push("mid-sweep", config, layer), () -> { })
                .run(Duration.ofHours(24));

        assertTrue(store().blobs().exists(config), "the config of a manifest pushed during the sweep");
        assertTrue(store().blobs().exists(layer), "the layer of a manifest pushed during the sweep");
        assertFalse(store().blobs().exists(orphan), "an unreferenced blob still goes");
        assertEquals(1, report.blobsRemoved());
        assertTrue(new Fsck(store()).run(false).clean());
        assertTrue(store().blobs().retired().isEmpty(), "nothing left set aside");
    }

    @Test
    void aManifestPushedWhileItsBlobsAreSetAsideIsRefusedNotLost() throws IOException {
        Digest config = blob(4);
        Digest layer = blob(5);
        RegistryException[] refused = new RegistryException[1];

        laterCollector().hooks(() -> { }, () -> refused[0] = assertThrows(RegistryException.class,
                () -> registry().putManifest(APP, "too-late", MediaTypes.OCI_MANIFEST, manifest(config, layer)))).run(Duration.ofHours(24));

        assertEquals(ErrorCode.MANIFEST_BLOB_UNKNOWN, refused[0].code(), "the client is told to push the blob again");
        assertTrue(store().metadata().resolveTag(APP, "too-late").isEmpty(), "no tag names a manifest that was refused");
        assertTrue(new Fsck(store()).run(false).clean(), "no manifest link dangles");
    }

    @Test
    void aCollectionThatLosesItsLockDeletesNothing() throws IOException {
        Digest orphan = blob(6);
        int[] asked = {0};

        assertThrows(GarbageCollector.LockLostException.class,
                () -> laterCollector().run(Duration.ofHours(24), () -> ++asked[0] < 2));

        assertTrue(store().blobs().exists(orphan), "a blob set aside before the lock was lost is restored");
        assertTrue(store().blobs().retired().isEmpty());
    }

    @Test
    void oneHolderAtATimeUntilReleasedOrExpired() throws IOException {
        StoreLock lock = store().locks().named("gc-test");
        assertTrue(lock.acquire("a", Duration.ofHours(1)));
        assertFalse(lock.acquire("b", Duration.ofHours(1)), "held by a");
        assertTrue(lock.acquire("a", Duration.ofHours(1)), "a renews");
        lock.release("b");
        assertFalse(lock.acquire("b", Duration.ofHours(1)), "only the holder can release");
        lock.release("a");
        assertTrue(lock.acquire("b", Duration.ZERO), "free once released");
        assertTrue(lock.acquire("a", Duration.ofHours(1)), "b's lock expired at once: a takes it over");
        assertFalse(lock.acquire("b", Duration.ofHours(1)));
    }

    @Test
    void replicasRacingForTheLockGetOneWinner() throws Exception {
        for (int round = 0; round < 5; round++) {
            StoreLock lock = store().locks().named("race-" + round);
            List<Callable<Boolean>> racers = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                String holder = "replica-" + i;
                racers.add(() -> lock.acquire(holder, Duration.ofHours(1)));
            }
            assertEquals(1, LockRace.winners(racers), "round " + round);
        }
    }

    @Test
    void concurrentTagWritersLeaveOneWholeManifestNamed() throws Exception {
        Digest config = blob(7);
        List<Digest> manifests = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            byte[] body = manifest(config, blob(10 + i));
            manifests.add(registry().putManifest(APP, "v" + i, MediaTypes.OCI_MANIFEST, body).digest());
        }
        store().metadata().tag(APP, "latest", manifests.get(0));
        Set<String> seen = ConcurrentHashMap.newKeySet();
        AtomicBoolean writing = new AtomicBoolean(true);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<?>> writers = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                Digest mine = manifests.get(w);
                writers.add(pool.submit(() -> {
                    for (int i = 0; i < 40; i++) {
                        store().metadata().tag(APP, "latest", mine);
                    }
                    return null;
                }));
            }
            Future<?> reader = pool.submit(() -> {
                while (writing.get()) {
                    Digest named = store().metadata().resolveTag(APP, "latest").orElse(null);
                    seen.add(String.valueOf(named));
                    if (named != null) {
                        store().blobs().readAll(named, 1 << 20);
                    }
                }
                return null;
            });
            for (Future<?> writer : writers) {
                writer.get(120, TimeUnit.SECONDS);
            }
            writing.set(false);
            reader.get(60, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        Set<String> allowed = Set.of(manifests.get(0).toString(), manifests.get(1).toString());
        assertTrue(allowed.containsAll(seen), "the tag only ever named one of the two manifests, seen: " + seen);
        assertTrue(allowed.contains(store().metadata().resolveTag(APP, "latest").orElseThrow().toString()));
    }

    @Test
    void buildRecordsAndLogsAreKeptInTheStore() throws IOException {
        BuildArchive builds = store().builds();
        String id = "0123456789abcdef0123";
        assertTrue(builds.record(id).isEmpty());
        assertEquals(0, builds.readLog(id, 0, 100).length, "no log yet");
        builds.saveRecord(id, "{\"state\":\"queued\"}".getBytes(StandardCharsets.UTF_8));
        builds.saveRecord(id, "{\"state\":\"running\"}".getBytes(StandardCharsets.UTF_8));
        assertEquals("{\"state\":\"running\"}", new String(builds.record(id).orElseThrow(), StandardCharsets.UTF_8));
        assertEquals(List.of(id), builds.ids());

        byte[][] chunks = {"build queued\n".getBytes(StandardCharsets.UTF_8), "step 1/2\nstep 2/2\n".getBytes(StandardCharsets.UTF_8),
                "build succeeded\n".getBytes(StandardCharsets.UTF_8)};
        java.io.ByteArrayOutputStream whole = new java.io.ByteArrayOutputStream();
        for (byte[] chunk : chunks) {
            builds.appendLog(id, whole.size(), chunk);
            whole.writeBytes(chunk);
        }
        builds.appendLog(id, chunks[0].length, chunks[1]); // a retried chunk
        String log = whole.toString(StandardCharsets.UTF_8);
        assertEquals(log, new String(builds.readLog(id, 0, 1 << 20), StandardCharsets.UTF_8));
        for (int from = 0; from <= log.length(); from += 5) {
            assertEquals(log.substring(from, Math.min(log.length(), from + 7)),
                    new String(builds.readLog(id, from, 7), StandardCharsets.UTF_8), "7 bytes from " + from);
        }
        assertThrows(IllegalArgumentException.class, () -> builds.record("../../etc"));
    }

    @Test
    void aDeletedBuildIsGoneRecordAndLogAndOthersStay() throws IOException {
        BuildArchive builds = store().builds();
        String pruned = "0123456789abcdef0124";
        String kept = "0123456789abcdef0125";
        for (String id : List.of(pruned, kept)) {
            builds.saveRecord(id, "{\"state\":\"succeeded\"}".getBytes(StandardCharsets.UTF_8));
            builds.appendLog(id, 0, "build queued\n".getBytes(StandardCharsets.UTF_8));
            builds.appendLog(id, 13, "build succeeded\n".getBytes(StandardCharsets.UTF_8));
        }
        builds.delete(pruned);
        assertTrue(builds.record(pruned).isEmpty());
        assertEquals(0, builds.readLog(pruned, 0, 100).length, "no chunk of its log is left");
        assertEquals(List.of(kept), builds.ids());
        assertEquals("build queued\nbuild succeeded\n", new String(builds.readLog(kept, 0, 100), StandardCharsets.UTF_8));
        builds.delete(pruned); // again, as a prune a crash cut short does at the next start
        assertThrows(IllegalArgumentException.class, () -> builds.delete("../../etc"));
    }
}
