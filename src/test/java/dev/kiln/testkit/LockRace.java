package dev.kiln.testkit;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Replicas racing for one lock: every attempt waits on one latch so they start together, each on
 * its own thread. A lock works when exactly one of them wins.
 */
public final class LockRace {
    private LockRace() {
    }

    /** Runs {@code attempts} at once; how many answered true (acquired). */
    public static int winners(List<Callable<Boolean>> attempts) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(attempts.size());
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Boolean>> results = new ArrayList<>();
            for (Callable<Boolean> attempt : attempts) {
                results.add(pool.submit(() -> {
                    start.await();
                    return attempt.call();
                }));
            }
            start.countDown();
            int winners = 0;
            for (Future<Boolean> result : results) {
                winners += result.get(60, TimeUnit.SECONDS) ? 1 : 0;
            }
            return winners;
        } finally {
            pool.shutdownNow();
        }
    }
}
