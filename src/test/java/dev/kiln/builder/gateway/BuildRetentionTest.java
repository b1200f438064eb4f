package dev.kiln.builder.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pruning on a real {@link BuildFiles} in a temp dir: gone from memory and disk, after each build, safe across a crash. */
class BuildRetentionTest {
    private static final BuildSpec URL_SPEC = new BuildSpec("git://git.example/app.git", "Dockerfile", Map.of(), null, Map.of(),
            List.of("local/app:1"), false, null);

    @TempDir
    Path store;

    private final List<String> problems = Collections.synchronizedList(new ArrayList<>());
    private final TestClock clock = new TestClock(Instant.parse("2026-12-03T12:00:00Z"));

    /** A clock the test moves: ages without sleeping. */
    static final class TestClock extends Clock {
        private volatile Instant now;

        TestClock(Instant now) {
            this.now = now;
        }

        void advance(Duration by) {
            now = now.plus(by);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }
    }

    private static String id(int n) {
        return String.format("%020x", n);
    }

    /** A build that ran and finished at the clock's now, saved with a log as the service leaves it. */
    private BuildRecord finishedNow(BuildRecords records, BuildFiles files, int n) throws IOException {
        Instant now = clock.instant();
        records.save(BuildRecord.queued(id(n), URL_SPEC, now).running(now));
        files.appendLine(id(n), "build " + id(n) + " succeeded", problems::add);
        return records.save(records.get(id(n)).succeeded(now, "sha256:" + "c".repeat(64), List.of(), null));
    }

    @Test
    void aPrunedBuildLeavesTheListAndTheDiskAndEachPruneIsTold() throws IOException {
        BuildFiles files = new BuildFiles(store);
        BuildRecords records = new BuildRecords(files, problems::add, clock);
        for (int n = 1; n <= 4; n++) {
            finishedNow(records, files, n);
            clock.advance(Duration.ofHours(1));
        }
        BuildRecord waiting = records.save(BuildRecord.queued(id(9), URL_SPEC, clock.instant().minus(Duration.ofDays(30))));
        List<List<String>> told = new ArrayList<>();

        List<String> pruned = records.retention().apply(new RetentionPolicy(Duration.ofDays(7), 2), told::add);

        assertEquals(List.of(id(1), id(2)), pruned, "the oldest first");
        assertEquals(List.of(pruned), told);
        assertEquals(List.of(id(4), id(3), id(9)), records.list(null).stream().map(BuildRecord::id).toList());
        for (String gone : pruned) {
            assertNull(records.get(gone));
            assertFalse(Files.exists(files.dir(gone)), gone + " is still on disk");
        }
        assertTrue(Files.isRegularFile(files.log(id(4))));
        assertEquals(List.of(), listing(files.trash()), "nothing is left in the trash");
        assertEquals(waiting, records.get(id(9)), "a queued build stays however old");
        assertEquals(List.of(), problems);

        clock.advance(Duration.ofDays(8));
        assertEquals(List.of(id(3), id(4)), records.retention().prune(), "a week later the age takes the rest");
        assertEquals(List.of(id(9)), records.list(null).stream().map(BuildRecord::id).toList());
    }

    @Test
    void aBuildThatEndsPushesTheOldestOut() throws IOException {
        BuildFiles files = new BuildFiles(store);
        BuildRecords records = new BuildRecords(files, problems::add, clock);
        List<String> told = Collections.synchronizedList(new ArrayList<>());
        records.retention().apply(new RetentionPolicy(null, 2), told::addAll);
        finishedNow(records, files, 1);
        clock.advance(Duration.ofMinutes(1));
        finishedNow(records, files, 2);
        assertEquals(List.of(), told);
        clock.advance(Duration.ofMinutes(1));
        records.save(BuildRecord.queued(id(3), URL_SPEC, clock.instant()).running(clock.instant()));
        assertEquals(List.of(), told, "a running build is not finished yet");
        records.update(id(3), r -> r.ended(BuildState.FAILED, clock.instant(), "exit 1"));
        assertEquals(List.of(id(1)), told);
        assertNull(records.get(id(1)));
        assertFalse(Files.exists(files.dir(id(1))));
    }

    @Test
    void aLogBeingReadIsLeftAloneForAMinute() throws IOException {
        BuildFiles files = new BuildFiles(store);
        BuildRecords records = new BuildRecords(files, problems::add, clock);
        finishedNow(records, files, 1);
        clock.advance(Duration.ofDays(10));
        records.retention().apply(new RetentionPolicy(Duration.ofDays(1), 0), ids -> { });
        assertNull(records.get(id(1)));

        finishedNow(records, files, 2);
        clock.advance(Duration.ofDays(10));
        records.retention().logRead(id(2));
        assertEquals(List.of(), records.retention().prune(), "its log is going out");
        clock.advance(BuildRetention.LOG_READ_GRACE.plusSeconds(1));
        assertEquals(List.of(id(2)), records.retention().prune());
    }

    @Test
    void aCrashBetweenTheRenameAndTheDeleteLeavesNothingVisibleAndTheNextStartClearsIt() throws Exception {
        CountDownLatch ran = new CountDownLatch(1);
        BuildRunner runner = job -> {
            job.log().println("built");
            ran.countDown();
            return new BuildRunner.Outcome("sha256:" + "d".repeat(64), List.of());
        };
        String pruned;
        String kept;
        try (BuildService service = new BuildService(new BuildFiles(store), runner, 1, 1 << 20, clock, problems::add)) {
            pruned = service.submit(URL_SPEC, null).id();
            assertTrue(ran.await(60, TimeUnit.SECONDS), "the build did not run: " + problems);
            awaitEnd(service, pruned);
            kept = service.submit(URL_SPEC, null).id();
            awaitEnd(service, kept);
        }
        // the process dies right after the rename of a prune, before the delete
        BuildFiles files = new BuildFiles(store);
        Path trashed = files.moveToTrash(pruned);
        assertTrue(Files.isRegularFile(trashed.resolve("build.json")), "the crash left the build in the trash");

        try (BuildService next = new BuildService(new BuildFiles(store), runner, 1, 1 << 20, clock, problems::add)) {
            assertFalse(Files.exists(files.trash()), "the next start empties the trash");
            assertEquals(List.of(kept), next.list(null).stream().map(BuildRecord::id).toList());
            BuildRequestException notFound = assertThrows(BuildRequestException.class, () -> next.require(pruned));
            assertEquals(404, notFound.status());
            assertNotNull(next.require(kept));
        }
        assertEquals(List.of(), problems);
    }

    private static void awaitEnd(BuildService service, String id) throws InterruptedException {
        for (long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); System.nanoTime() < end; ) {
            if (service.require(id).state().ended()) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("build " + id + " did not end: " + service.require(id));
    }

    private static List<Path> listing(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (var entries = Files.list(dir)) {
            return entries.toList();
        }
    }
}
