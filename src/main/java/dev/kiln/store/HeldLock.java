package dev.kiln.store;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * A {@link StoreLock} this process holds: asked before each step that must not run without it, it
 * renews the lock once a third of its time-to-live has passed and answers false, for good, as soon as
 * a renewal fails (the lock expired and someone else took it, or the store cannot be reached).
 */
public final class HeldLock implements BooleanSupplier, AutoCloseable {
    private final StoreLock lock;
    private final String holder;
    private final Duration ttl;
    private final Clock clock;
    private Instant renewed;
    private boolean lost;

    private HeldLock(StoreLock lock, String holder, Duration ttl, Clock clock) {
        this.lock = lock;
        this.holder = holder;
        this.ttl = ttl;
        this.clock = clock;
        this.renewed = clock.instant();
    }

    /** The lock, when {@code holder} could take it now. */
    public static Optional<HeldLock> take(StoreLock lock, String holder, Duration ttl, Clock clock) throws IOException {
        return lock.acquire(holder, ttl) ? Optional.of(new HeldLock(lock, holder, ttl, clock)) : Optional.empty();
    }

    @Override
    public synchronized boolean getAsBoolean() {
        if (lost) {
            return false;
        }
        Instant now = clock.instant();
        if (Duration.between(renewed, now).compareTo(ttl.dividedBy(3)) >= 0) {
            try {
                lost = !lock.acquire(holder, ttl);
            } catch (IOException | RuntimeException e) {
                lost = true;
            }
            renewed = now;
        }
        return !lost;
    }

    @Override
    public void close() {
        try {
            lock.release(holder);
        } catch (IOException | RuntimeException ignored) {
            // it expires on its own
        }
    }

    /** Both locks, taken in order; the first is given back when the second cannot be had. */
    public static StoreLock both(StoreLock first, StoreLock second) {
        return new StoreLock() {
            @Override
            public boolean acquire(String holder, Duration ttl) throws IOException {
                if (!first.acquire(holder, ttl)) {
                    return false;
                }
                if (second.acquire(holder, ttl)) {
                    return true;
                }
                first.release(holder);
                return false;
            }

            @Override
            public void release(String holder) throws IOException {
                try {
                    second.release(holder);
                } finally {
                    first.release(holder);
                }
            }

            @Override
            public String describe() {
                return first.describe() + " and " + second.describe();
            }
        };
    }
}
