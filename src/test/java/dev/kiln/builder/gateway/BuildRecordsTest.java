package dev.kiln.builder.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The replica's build records on their own: saved before seen, told in order, changes never lost. */
class BuildRecordsTest {
    private static final BuildSpec SPEC = new BuildSpec("git://git.example/app.git#main", "Dockerfile", Map.of("V", "1"),
            null, Map.of(), List.of("local/app:1"), false, null);
    private static final Instant T0 = Instant.parse("2026-01-02T03:04:05Z");

    @TempDir
    Path store;

    private final List<String> problems = Collections.synchronizedList(new ArrayList<>());

    private static String id(int n) {
        return String.format("%020x", n);
    }

    private static BuildRecord.Step step(int n) {
        return new BuildRecord.Step("build", n, 9, "RUN make " + n, 10L * n, n % 2 == 0);
    }

    @Test
    void everyStateChangeIsSavedThenToldWithTheRecordBeforeIt() throws IOException {
        BuildFiles files = new BuildFiles(store);
        BuildRecords records = new BuildRecords(files, problems::add);
        List<String> told = new ArrayList<>();
        records.listen((before, after) -> {
            // the change is on disk before anyone hears of it
            try {
                assertEquals(after, BuildRecord.parse(Files.readAllBytes(files.record(after.id()))));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            told.add((before == null ? "-" : before.state().wireName()) + ">" + after.state().wireName() + ":" + after.steps().size());
        });
        String id = id(1);
        records.save(BuildRecord.queued(id, SPEC, T0, "alice"));
        records.update(id, r -> r.running(T0.plusSeconds(1)));
        records.update(id, r -> r.withStep(step(1)));
        BuildRecord done = records.update(id, r -> r.succeeded(T0.plusSeconds(3), "sha256:" + "a".repeat(64),
                List.of("local/app:1@sha256:" + "a".repeat(64)), null));

        assertEquals(List.of("-" + ">queued:0", "queued>running:0", "running>running:1", "running>succeeded:1"), told);
        assertSame(done, records.get(id));
        assertEquals(BuildState.SUCCEEDED, done.state());
        assertEquals(T0.plusSeconds(1), done.startedAt());
        assertEquals(List.of(step(1)), done.steps(), "a step recorded while running survives the end");
        assertTrue(problems.isEmpty(), problems.toString());
    }

    @Test
    void recordsReadBackAfterARestartAreTheSameAndNobodyIsTold() throws IOException {
        BuildFiles files = new BuildFiles(store);
        BuildRecords before = new BuildRecords(files, problems::add);
        before.save(BuildRecord.queued(id(1), SPEC, T0, null));
        before.save(BuildRecord.queued(id(2), SPEC, T0.plusSeconds(5), "bob").running(T0.plusSeconds(6)).withStep(step(2)));
        before.save(BuildRecord.queued(id(3), SPEC, T0.plusSeconds(9), "carol").running(T0.plusSeconds(9))
                .ended(BuildState.FAILED, T0.plusSeconds(10), "exit status 2"));

        BuildFiles reopened = new BuildFiles(store);
        BuildRecords after = new BuildRecords(reopened, problems::add);
        List<String> told = new ArrayList<>();
        after.listen((b, a) -> told.add(a.id()));
        for (BuildRecord record : reopened.loadAll(problems::add)) {
            after.loaded(record);
        }
        for (String id : List.of(id(1), id(2), id(3))) {
            assertEquals(before.get(id), after.get(id), "build " + id + " as saved");
        }
        assertEquals("bob", after.get(id(2)).owner(), "the owner is kept on disk");
        assertTrue(told.isEmpty(), "a record loaded at start-up is not news: " + told);
        assertEquals(List.of(id(3), id(2), id(1)), after.list(null).stream().map(BuildRecord::id).toList(), "newest first");
        assertEquals(List.of(id(2)), after.list(BuildState.RUNNING).stream().map(BuildRecord::id).toList());
        assertEquals(List.of(), after.list(BuildState.CANCELLED));
    }

    @Test
    void aChangeThatCannotBeSavedIsNeitherVisibleNorTold() throws IOException {
        BuildFiles files = new BuildFiles(store);
        BuildRecords records = new BuildRecords(files, problems::add);
        List<BuildRecord> told = new ArrayList<>();
        records.listen((before, after) -> told.add(after));
        String id = id(7);
        BuildRecord queued = records.save(BuildRecord.queued(id, SPEC, T0, null));
        // the build's directory turns into a file: the next save cannot write its record
        Path dir = files.dir(id);
        dev.kiln.builder.rootfs.Trees.deleteQuietly(dir);
        Files.writeString(dir, "in the way");

        UncheckedIOException refused = assertThrows(UncheckedIOException.class,
                () -> records.update(id, r -> r.running(T0.plusSeconds(1))));
        assertTrue(refused.getMessage().contains(id), refused.getMessage());
        assertSame(queued, records.get(id), "what could not be saved is not shown");
        assertEquals(List.of(queued), told);
        // another build's directory is fine: only this one is stuck
        records.save(BuildRecord.queued(id(8), SPEC, T0, null));
        assertEquals(BuildState.QUEUED, records.get(id(8)).state());
    }

    @Test
    void aFailingListenerIsReportedAndUndoesNothing() throws IOException {
        BuildRecords records = new BuildRecords(new BuildFiles(store), problems::add);
        records.listen((before, after) -> {
            throw new IllegalStateException("dashboard gone");
        });
        BuildRecord saved = records.save(BuildRecord.queued(id(4), SPEC, T0, null));
        assertSame(saved, records.get(id(4)));
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains(id(4)) && problems.get(0).contains("dashboard gone"), problems.get(0));
    }

    /** Steps recorded by the build's thread while others change the record (cancel, restart): none is lost. */
    @Test
    void concurrentUpdatesOfOneBuildAreNeverLost() throws Exception {
        BuildFiles files = new BuildFiles(store);
        BuildRecords records = new BuildRecords(files, problems::add);
        String id = id(5);
        records.save(BuildRecord.queued(id, SPEC, T0, null).running(T0));
        int threads = 6;
        int each = 60;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int base = t * each;
            done.add(pool.submit(() -> {
                go.await();
                for (int i = 0; i < each; i++) {
                    int n = base + i;
                    records.update(id, r -> r.withStep(step(n)));
                }
                return null;
            }));
        }
        go.countDown();
        for (Future<?> f : done) {
            f.get();
        }
        pool.shutdown();
        BuildRecord last = records.get(id);
        assertEquals(threads * each, last.steps().size(), "every step recorded once");
        assertEquals(threads * each, last.steps().stream().map(BuildRecord.Step::number).distinct().count());
        assertEquals(last, BuildRecord.parse(Files.readAllBytes(files.record(id))), "the file holds the last change");
        assertNull(records.get(id(6)));
    }
}
