package dev.kiln.builder.rootfs;

import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two deletions of one tree at once (the gateway removing a build's work dir while the build's own
 * deferred deletion empties it) both end without an error, and nothing is left.
 */
class TreesDeletionTest {
    @TempDir
    Path dir;

    @Test
    void twoDeletionsOfOneTreeAtOnceBothSucceed() throws Exception {
        for (int round = 0; round < 5; round++) {
            Path tree = dir.resolve("tree" + round);
            for (int d = 0; d < 20; d++) {
                Path sub = Files.createDirectories(tree.resolve("d" + d).resolve("deeper"));
                for (int f = 0; f < 100; f++) {
                    Files.writeString(sub.resolve("f" + f), "x");
                }
                Files.setAttribute(sub.getParent(), "unix:mode", 0500); // made read-only, as a layer can
            }
            CountDownLatch go = new CountDownLatch(1);
            CompletableFuture<Void> a = CompletableFuture.runAsync(() -> deleteAfter(go, tree));
            CompletableFuture<Void> b = CompletableFuture.runAsync(() -> deleteAfter(go, tree));
            go.countDown();
            a.get(2, TimeUnit.MINUTES);
            b.get(2, TimeUnit.MINUTES);
            assertFalse(Files.exists(tree), "round " + round + ": left behind");
        }
    }

    private static void deleteAfter(CountDownLatch go, Path tree) {
        try {
            go.await();
            Trees.deleteTree(tree);
        } catch (Exception e) {
            throw new AssertionError("deleting " + tree + ": " + e, e);
        }
    }
}
