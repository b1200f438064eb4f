package dev.kiln.app.cluster;

import dev.kiln.app.config.ClusterConfig;
import dev.kiln.app.config.ConfigurationProblem;
import dev.kiln.app.config.KilnConfig;
import dev.kiln.registry.mirror.MirrorService;
import dev.kiln.registry.peers.PeerBlobSource;
import dev.kiln.registry.peers.PeerStats;
import dev.kiln.registry.peers.PeerUrls;
import dev.kiln.registry.peers.Peers;
import dev.kiln.store.Store;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToDoubleFunction;
import org.jboss.logging.Logger;

/**
 * Turns peer routing on when peers are configured ({@code --peer}) or discovered (a Service's
 * EndpointSlices): the mirror then asks the owning replica on every miss.
 */
@ApplicationScoped
public class ClusterWiring {
    private static final Logger LOG = Logger.getLogger(ClusterWiring.class);

    @Inject
    ClusterConfig cluster;

    @Inject
    KilnConfig config;

    @Inject
    MirrorService mirror;

    @Inject
    Instance<KubernetesClient> kubernetes;

    @Inject
    MeterRegistry registry;

    @Inject
    Store store;

    private final PeerStats stats = new PeerStats();
    private volatile Peers peers;
    private EndpointSliceWatch watch;

    public PeerStats stats() {
        return stats;
    }

    /** The configured peer token, when peer routing is on; the peer endpoint is closed otherwise. */
    public Optional<String> token() {
        return peers == null ? Optional.empty() : cluster.peerToken();
    }

    void start(@Observes StartupEvent event) {
        List<String> listed = cluster.peers().orElse(List.of()).stream().filter(p -> !p.isBlank()).toList();
        if (listed.isEmpty() && cluster.service().isEmpty()) {
            return;
        }
        String token = cluster.peerToken().filter(t -> !t.isBlank()).orElseThrow(() -> new ConfigurationProblem(
                "peers need a shared secret: set kiln.cluster.peer-token (KILN_CLUSTER_PEER_TOKEN), the same on every replica", null));
        int port = config.port();
        List<String> urls;
        try {
            urls = listed.stream().map(url -> PeerUrls.canonical(url, port)).toList();
        } catch (IllegalArgumentException e) {
            throw new ConfigurationProblem(e.getMessage(), e);
        }
        String podIp = System.getenv("POD_IP");
        PeerUrls.Self self = PeerUrls.Self.of(port, podIp);
        String selfUrl = cluster.selfUrl().map(url -> PeerUrls.canonical(url, port))
                .or(() -> urls.stream().filter(self::is).findFirst())
                .or(() -> Optional.ofNullable(podIp).filter(ip -> !ip.isBlank()).map(ip -> PeerUrls.canonical(ip, port)))
                .orElseGet(() -> guessedSelf(port));
        if (!config.store().startsWith("s3://")) {
            LOG.warn("peers: the store is a local directory, not shared: peer routing only helps replicas on one bucket (--store s3://…)");
        }
        peers = new Peers(selfUrl, self::is, cluster.peerDownFor(), Clock.systemUTC());
        peers.replace(urls);
        if (cluster.service().isPresent()) {
            KubernetesClient client = kubernetes.get();
            String namespace = cluster.namespace().orElseGet(() -> Optional.ofNullable(client.getNamespace()).orElse("default"));
            List<String> fixed = urls;
            watch = new EndpointSliceWatch(client, namespace, cluster.service().get(), port, found -> {
                java.util.Set<String> all = new java.util.LinkedHashSet<>(fixed);
                all.addAll(found);
                peers.replace(all);
            });
            watch.start();
        }
        mirror.missesFrom(new PeerBlobSource(peers, token, cluster.peerConnectTimeout(), cluster.peerAnswerTimeout(), stats,
                store.blobs()::keepingRelayedCopy));
        counter("kiln.peers.forwarded", "Mirror misses streamed from the replica that owns the digest", s -> s.forwarded);
        counter("kiln.peers.fallbacks", "Mirror misses fetched here because the owning replica was down or failed", s -> s.fallbacks);
        counter("kiln.peers.served", "Peer requests this replica answered as the owner of the digest", s -> s.served);
        counter("kiln.peers.refused", "Peer requests refused for a missing or wrong peer token", s -> s.refused);
        Gauge.builder("kiln.peers.members", peers, p -> p.others().size() + 1)
                .description("Replicas taking part in the hashing, this one included").register(registry);
    }

    private void counter(String name, String help, java.util.function.Function<PeerStats, AtomicLong> field) {
        ToDoubleFunction<PeerStats> value = s -> field.apply(s).get();
        FunctionCounter.builder(name, stats, value).description(help).register(registry);
    }

    private static String guessedSelf(int port) {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostAddress();
        } catch (UnknownHostException e) {
            host = "localhost";
        }
        String url = PeerUrls.canonical(host, port);
        LOG.warnf("peers: this replica is not in the peer list and kiln.cluster.self-url is not set; taking part as %s,"
                + " which the other replicas must list exactly so", url);
        return url;
    }

    void stop(@Observes ShutdownEvent event) {
        if (watch != null) {
            watch.close();
        }
    }
}
