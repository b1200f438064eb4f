package dev.kiln.store;

import java.io.IOException;
import java.time.Duration;

/**
 * A named lock that at most one holder has at a time, for work that several replicas of one store
 * must not do at once (garbage collection). It expires: a holder that dies frees it after {@code ttl},
 * so a holder renews it (by acquiring again) well within that time and stops its work as soon as a
 * renewal fails.
 */
public interface StoreLock {
    /** Takes the lock, or renews it when {@code holder} has it; false while someone else holds it unexpired. */
    boolean acquire(String holder, Duration ttl) throws IOException;

    /** Gives the lock up when {@code holder} has it; otherwise does nothing. */
    void release(String holder) throws IOException;

    /** Where the lock is kept, for messages. */
    String describe();
}
