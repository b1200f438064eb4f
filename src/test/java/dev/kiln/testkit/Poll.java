package dev.kiln.testkit;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Waiting for something a server does just after it answers (an access-log line, a metric, an
 * eviction). Timeouts are the caller's; {@link #settle} scales its own with {@link Slowness}.
 */
public final class Poll {
    private Poll() {
    }

    /** Polls {@code condition} every 50 ms until it holds or {@code timeout} passes; says whether it held. */
    public static boolean until(Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (condition.getAsBoolean()) {
                return true;
            }
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }

    /** Waits up to 3 s (scaled) for {@code actual} to equal {@code expected} (logs are written just after a response), then returns it. */
    public static <T> T settle(T expected, Supplier<T> actual) {
        until(Slowness.scale(Duration.ofSeconds(3)), () -> expected.equals(actual.get()));
        return actual.get();
    }

    /** Sleeps, turning an interrupt into a failure of the waiting test. */
    public static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
