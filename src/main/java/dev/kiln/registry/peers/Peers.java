package dev.kiln.registry.peers;

import dev.kiln.oci.Digest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.logging.Logger;

/**
 * The replicas that share this store, and which of them owns a digest: rendezvous hashing over the
 * live peers and this one. A peer that could not be reached is left out for a while, so the misses
 * it owned go elsewhere instead of each waiting for a connect timeout.
 */
public final class Peers {
    private static final Logger LOG = Logger.getLogger(Peers.class.getName());

    private final String self;
    private final Predicate<String> isSelf;
    private final Duration downFor;
    private final Clock clock;
    private volatile List<String> others = List.of();
    private final Map<String, Instant> down = new ConcurrentHashMap<>();

    /**
     * @param self   this replica's canonical URL, as the others know it: it takes part in the hashing
     * @param isSelf recognises this replica under another spelling in a peer list (its own addresses)
     */
    public Peers(String self, Predicate<String> isSelf, Duration downFor, Clock clock) {
        this.self = self;
        this.isSelf = url -> url.equals(self) || isSelf.test(url);
        this.downFor = downFor;
        this.clock = clock;
    }

    public String self() {
        return self;
    }

    /** Replaces the member list (from configuration or discovery); this replica is recognised and left out. */
    public void replace(Collection<String> canonicalUrls) {
        TreeSet<String> next = new TreeSet<>();
        for (String url : canonicalUrls) {
            if (!isSelf.test(url)) {
                next.add(url);
            }
        }
        List<String> updated = List.copyOf(next);
        if (!updated.equals(others)) {
            others = updated;
            down.keySet().retainAll(next);
            LOG.info(() -> "peers: " + (updated.isEmpty() ? "none" : String.join(", ", updated)) + " (this replica: " + self + ")");
        }
    }

    /** The other replicas, live or not. */
    public List<String> others() {
        return others;
    }

    /** The live peer that owns {@code digest}, or empty when this replica does. */
    public Optional<String> owner(Digest digest) {
        List<String> members = new ArrayList<>(others.size() + 1);
        members.add(self);
        Instant now = clock.instant();
        for (String peer : others) {
            Instant until = down.get(peer);
            if (until == null || !until.isAfter(now)) {
                members.add(peer);
            }
        }
        String owner = Rendezvous.owner(digest.toString(), members);
        return owner.equals(self) ? Optional.empty() : Optional.of(owner);
    }

    /** The peer did not answer: its digests go to the others (or here) for a while. */
    public void markDown(String peer) {
        down.put(peer, clock.instant().plus(downFor));
    }
}
