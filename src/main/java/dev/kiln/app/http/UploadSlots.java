package dev.kiln.app.http;

import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Request bodies being received at once, over all clients and per client address. A body costs a
 * connection and a few buffers, not a thread; the bound keeps one client from holding all of them.
 */
public final class UploadSlots {
    private final int max;
    private final int maxPerClient;
    private final AtomicInteger open = new AtomicInteger();
    private final ConcurrentHashMap<String, AtomicInteger> perClient = new ConcurrentHashMap<>();

    public UploadSlots(int max, int maxPerClient) {
        this.max = max;
        this.maxPerClient = maxPerClient;
    }

    /** A slot for one body, released by running the returned action (more than once is harmless). */
    public Runnable acquire(String client) {
        if (open.incrementAndGet() > max) {
            open.decrementAndGet();
            throw tooMany("the gateway is receiving " + max + " request bodies already");
        }
        AtomicInteger mine = perClient.compute(client, (k, n) -> n == null ? new AtomicInteger(1) : incremented(n));
        if (mine.get() > maxPerClient) {
            release(client);
            throw tooMany("this client is sending " + maxPerClient + " request bodies already");
        }
        AtomicBoolean released = new AtomicBoolean();
        return () -> {
            if (released.compareAndSet(false, true)) {
                release(client);
            }
        };
    }

    public int open() {
        return open.get();
    }

    private static AtomicInteger incremented(AtomicInteger n) {
        n.incrementAndGet();
        return n;
    }

    private void release(String client) {
        open.decrementAndGet();
        perClient.computeIfPresent(client, (k, n) -> n.decrementAndGet() <= 0 ? null : n);
    }

    private static RegistryException tooMany(String message) {
        return new RegistryException(ErrorCode.TOOMANYREQUESTS, 429, message + ", retry later", null, Map.of("Retry-After", "1"));
    }
}
