package dev.kiln.app.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Replicas on one shared store ({@code kiln.cluster.*}): who the peers are, so that a mirror miss is
 * fetched from the upstream once, by the replica that owns the digest. See docs/storage.md.
 */
@ConfigMapping(prefix = "kiln.cluster")
public interface ClusterConfig {
    /** The replicas' URLs outside Kubernetes ({@code kiln serve --peer URL}); this replica may be among them. */
    Optional<List<String>> peers();

    /** In Kubernetes: the Service whose ready EndpointSlice addresses are the peers. */
    Optional<String> service();

    /** The Service's namespace; default the one this pod runs in. */
    Optional<String> namespace();

    /** This replica's URL as the others know it; default its entry in the peer list, else http://$POD_IP:port. */
    Optional<String> selfUrl();

    /** The shared secret replicas present to each other (from a Kubernetes Secret); required with peers. */
    Optional<String> peerToken();

    @WithDefault("2s")
    Duration peerConnectTimeout();

    /** How long an owner may take to start answering (it may be waiting for the upstream). */
    @WithDefault("60s")
    Duration peerAnswerTimeout();

    /** A peer that could not be reached is left out of the hashing this long. */
    @WithDefault("15s")
    Duration peerDownFor();
}
