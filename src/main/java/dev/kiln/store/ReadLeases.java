package dev.kiln.store;

import dev.kiln.oci.Digest;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** Blobs that a download is reading right now; eviction leaves them alone. */
public final class ReadLeases {
    private final ConcurrentHashMap<Digest, AtomicInteger> readers = new ConcurrentHashMap<>();

    public Runnable acquire(Digest digest) {
        readers.computeIfAbsent(digest, d -> new AtomicInteger()).incrementAndGet();
        boolean[] released = {false};
        return () -> {
            synchronized (released) {
                if (released[0]) {
                    return;
                }
                released[0] = true;
            }
            readers.computeIfPresent(digest, (d, count) -> count.decrementAndGet() <= 0 ? null : count);
        };
    }

    public boolean isRead(Digest digest) {
        return readers.containsKey(digest);
    }
}
