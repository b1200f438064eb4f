package dev.kiln.app.kubernetes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.store.GarbageCollector;
import dev.kiln.store.HeldLock;
import dev.kiln.store.Store;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import dev.kiln.testkit.LockRace;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GC Lease against fabric8's mock API server in CRUD mode, which keeps resourceVersions and answers 409 to stale updates. */
@EnableKubernetesMockClient(crud = true, https = false)
class LeaseLockTest {
    private static final String NS = "kiln";

    static KubernetesMockServer server;
    static KubernetesClient client;

    @TempDir
    Path dir;

    /** A clock the test moves by hand, so expiry needs no sleeping. */
    static final class HandClock extends Clock {
        final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-01-01T00:00:00Z"));

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now.get();
        }

        void advance(Duration by) {
            now.updateAndGet(i -> i.plus(by));
        }
    }

    private Lease lease(String name) {
        return client.resources(Lease.class).inNamespace(NS).withName(name).get();
    }

    @Test
    void acquireRenewReleaseAndTakeOverAfterExpiry() {
        HandClock clock = new HandClock();
        LeaseLock lock = new LeaseLock(client, NS, "kiln-gc-a", clock);

        assertTrue(lock.acquire("kiln-0", Duration.ofSeconds(60)), "an absent Lease is created");
        Lease created = lease("kiln-gc-a");
        assertEquals("kiln-0", created.getSpec().getHolderIdentity());
        assertEquals(60, created.getSpec().getLeaseDurationSeconds());
        assertFalse(lock.acquire("kiln-1", Duration.ofSeconds(60)), "held by kiln-0");

        clock.advance(Duration.ofSeconds(30));
        assertTrue(lock.acquire("kiln-0", Duration.ofSeconds(60)), "the holder renews");
        assertEquals(clock.instant(), lease("kiln-gc-a").getSpec().getRenewTime().toInstant());
        clock.advance(Duration.ofSeconds(45));
        assertFalse(lock.acquire("kiln-1", Duration.ofSeconds(60)), "renewed 45 s ago: not expired yet");

        clock.advance(Duration.ofSeconds(20));
        assertTrue(lock.acquire("kiln-1", Duration.ofSeconds(60)), "expired: kiln-1 takes it over");
        assertEquals(1, lease("kiln-gc-a").getSpec().getLeaseTransitions());

        lock.release("kiln-0");
        assertEquals("kiln-1", lease("kiln-gc-a").getSpec().getHolderIdentity(), "only the holder releases");
        lock.release("kiln-1");
        assertNull(lease("kiln-gc-a").getSpec().getHolderIdentity());
        assertTrue(lock.acquire("kiln-2", Duration.ofSeconds(60)), "a released Lease is free at once");
    }

    @Test
    void replicasRacingForTheLeaseGetOneWinner() throws Exception {
        for (int round = 0; round < 4; round++) {
            String name = "kiln-gc-race-" + round;
            if (round % 2 == 1) {
                // an expired Lease of a dead replica: every racer may take it over, one must win
                new LeaseLock(client, NS, name, Clock.offset(Clock.systemUTC(), Duration.ofHours(-1)))
                        .acquire("dead-replica", Duration.ofSeconds(10));
            }
            List<Callable<Boolean>> racers = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                String holder = "kiln-" + i;
                LeaseLock mine = new LeaseLock(client, NS, name, Clock.systemUTC());
                racers.add(() -> mine.acquire(holder, Duration.ofSeconds(60)));
            }
            assertEquals(1, LockRace.winners(racers), "round " + round);
        }
    }

    @Test
    void aReplicaThatLosesTheLeaseStopsSweeping() throws Exception {
        Store store = Store.openFilesystem(dir);
        byte[] bytes = "orphan".getBytes();
        dev.kiln.oci.Digest orphan;
        try (var writer = store.blobs().newWriter()) {
            writer.write(bytes, 0, bytes.length);
            orphan = writer.commit(null);
        }
        HandClock clock = new HandClock();
        LeaseLock lease = new LeaseLock(client, NS, "kiln-gc-lost", clock);
        HeldLock held = HeldLock.take(lease, "kiln-0", Duration.ofSeconds(30), clock).orElseThrow();
        // kiln-0 stalls past its Lease; kiln-1 takes the Lease over before kiln-0 asks to renew
        clock.advance(Duration.ofSeconds(31));
        assertTrue(new LeaseLock(client, NS, "kiln-gc-lost", clock).acquire("kiln-1", Duration.ofSeconds(30)));

        GarbageCollector collector = new GarbageCollector(store, Duration.ZERO,
                Clock.fixed(Instant.now().plus(Duration.ofHours(1)), ZoneOffset.UTC));
        org.junit.jupiter.api.Assertions.assertThrows(GarbageCollector.LockLostException.class,
                () -> collector.run(Duration.ofHours(24), held));
        assertTrue(store.blobs().exists(orphan), "nothing deleted by a replica without the Lease");
        assertFalse(held.getAsBoolean(), "once lost, lost");
        assertEquals("kiln-1", lease("kiln-gc-lost").getSpec().getHolderIdentity());
    }
}
