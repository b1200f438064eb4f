package dev.kiln.registry.peers;

import java.util.concurrent.atomic.AtomicLong;

/** What peer routing did, for /q/metrics. */
public final class PeerStats {
    /** Misses streamed from the owning replica. */
    public final AtomicLong forwarded = new AtomicLong();
    /** Misses fetched here because the owner was down or answered with an error. */
    public final AtomicLong fallbacks = new AtomicLong();
    /** Peer requests this replica answered as the owner. */
    public final AtomicLong served = new AtomicLong();
    /** Peer requests refused for a missing or wrong peer token. */
    public final AtomicLong refused = new AtomicLong();
}
