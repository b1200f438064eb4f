package dev.kiln.builder.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.output.BuildResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A build's temp dir goes after the build has returned its result ({@link DeferredDeletion}), on
 * success and on failure alike, and nothing of it is left once the deletion has run.
 */
class BuildDirDeletionTest {
    @TempDir
    Path dir;

    /** Deletions held until {@link #runAll}, so a test sees what the build left before them. */
    private static final class Held implements Executor {
        final List<Runnable> tasks = new ArrayList<>();

        @Override
        public synchronized void execute(Runnable task) {
            tasks.add(task);
        }

        synchronized void runAll() {
            tasks.forEach(Runnable::run);
            tasks.clear();
        }
    }

    private BuildRequest request(String dockerfile) throws IOException {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("Dockerfile"), dockerfile);
        Files.createDirectories(ctx.resolve("tree/sub"));
        for (int i = 0; i < 50; i++) {
            Files.writeString(ctx.resolve("tree/sub/f" + i), "file " + i + "\n");
        }
        return BuildRequest.builder()
                .context(ctx)
                .dockerfile(ctx.resolve("Dockerfile"))
                .noPush(true)
                .ociLayoutPath(dir.resolve("layout"))
                .cacheDir(dir.resolve("cache"))
                .workDir(Files.createDirectories(dir.resolve("work")))
                .build();
    }

    private List<Path> left() throws IOException {
        try (Stream<Path> list = Files.list(dir.resolve("work"))) {
            return list.toList();
        }
    }

    private static void ignore(BuildEvent event) {
    }

    @Test
    void theResultComesFirstAndTheBuildDirGoesAfter() throws Exception {
        Held held = new Held();
        BuildResult result = new Builder(BuildDirDeletionTest::ignore, new DeferredDeletion(held))
                .build(request("FROM scratch\nCOPY tree /srv/\n"));
        assertNotNull(result.digest());
        List<Path> before = left();
        assertEquals(1, before.size(), "the build dir, still there when the result is: " + before);
        assertTrue(Files.exists(before.get(0).resolve("layers")), "its layers were written there");
        assertEquals(1, held.tasks.size(), "one deletion asked for");

        held.runAll();
        assertEquals(List.of(), left(), "left behind");
    }

    @Test
    void aFailedBuildLeavesNothingBehindEither() throws Exception {
        Held held = new Held();
        BuildException e = assertThrows(BuildException.class, () -> new Builder(BuildDirDeletionTest::ignore,
                new DeferredDeletion(held)).build(request("FROM scratch\nCOPY tree /srv/\nCOPY absent.txt /srv/\n")));
        assertTrue(e.getMessage().contains("absent.txt"), e.getMessage());
        assertEquals(1, left().size(), "deleted after the error is thrown, not before");

        held.runAll();
        assertEquals(List.of(), left(), "left behind");
    }

    @Test
    void theProcessWideDeletionIsWaitedForAndLeavesNothing() throws Exception {
        new Builder(BuildDirDeletionTest::ignore).build(request("FROM scratch\nCOPY tree /srv/\n"));
        assertTrue(DeferredDeletion.process().awaitIdle(120_000), "still deleting after 2 minutes");
        assertEquals(List.of(), left(), "left behind");
    }

    @Test
    void whenNoThreadTakesItTheDeletionHappensAtOnce() throws Exception {
        Path tree = Files.createDirectories(dir.resolve("tree/a/b"));
        Files.writeString(tree.resolve("f"), "x");
        DeferredDeletion closed = new DeferredDeletion(task -> {
            throw new RejectedExecutionException("shutting down");
        });
        closed.delete(dir.resolve("tree"));
        assertFalse(Files.exists(dir.resolve("tree")));
        assertTrue(closed.awaitIdle(0));
    }

    @Test
    void awaitingCountsEveryDeletionAskedFor() throws Exception {
        Held held = new Held();
        DeferredDeletion deletion = new DeferredDeletion(held);
        Files.createDirectories(dir.resolve("one/x"));
        Files.createDirectories(dir.resolve("two/y"));
        deletion.delete(dir.resolve("one"));
        deletion.delete(dir.resolve("two"));
        deletion.delete(dir.resolve("never-there"));
        assertFalse(deletion.awaitIdle(10), "three deletions pending");
        held.runAll();
        assertTrue(deletion.awaitIdle(0));
        assertFalse(Files.exists(dir.resolve("one")) || Files.exists(dir.resolve("two")));
    }
}
