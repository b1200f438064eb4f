package dev.kiln.app.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.testkit.Poll;
import dev.kiln.testkit.Slowness;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Peers from a Service's EndpointSlices, on fabric8's mock API server in CRUD mode (a real watch). */
@EnableKubernetesMockClient(crud = true, https = false)
class EndpointSliceWatchTest {
    static KubernetesMockServer server;
    static KubernetesClient client;

    private static EndpointSlice slice(String name, String service, String... endpoints) {
        EndpointSliceBuilder builder = new EndpointSliceBuilder()
                .withNewMetadata().withName(name).withNamespace("kiln")
                .addToLabels(EndpointSliceWatch.SERVICE_LABEL, service).endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName("http").withPort(5000).withProtocol("TCP").endPort();
        for (String endpoint : endpoints) {
            boolean ready = !endpoint.endsWith("!");
            builder.addNewEndpoint().withAddresses(endpoint.replace("!", "")).withNewConditions().withReady(ready).endConditions().endEndpoint();
        }
        return builder.build();
    }

    private static void await(AtomicReference<Set<String>> seen, Set<String> expected) {
        Poll.until(Slowness.scale(Duration.ofSeconds(10)), () -> expected.equals(seen.get()));
        assertEquals(expected, seen.get(), "the peers the watch reported");
    }

    @Test
    void readyEndpointsOfTheServiceAreThePeersAndFollowChanges() {
        client.discovery().v1().endpointSlices().inNamespace("kiln").resource(slice("kiln-abc", "kiln", "10.0.0.1", "10.0.0.2", "10.0.0.3!")).create();
        client.discovery().v1().endpointSlices().inNamespace("kiln").resource(slice("other-abc", "other", "10.9.9.9")).create();
        AtomicReference<Set<String>> seen = new AtomicReference<>();
        try (EndpointSliceWatch watch = new EndpointSliceWatch(client, "kiln", "kiln", 5000, seen::set)) {
            watch.start();
            await(seen, Set.of("http://10.0.0.1:5000", "http://10.0.0.2:5000"));

            // the third replica passes its readiness probe, a second slice appears, the first replica goes away
            client.discovery().v1().endpointSlices().inNamespace("kiln").resource(slice("kiln-abc", "kiln", "10.0.0.2", "10.0.0.3")).update();
            client.discovery().v1().endpointSlices().inNamespace("kiln").resource(slice("kiln-def", "kiln", "10.0.0.4")).create();
            await(seen, Set.of("http://10.0.0.2:5000", "http://10.0.0.3:5000", "http://10.0.0.4:5000"));

            client.discovery().v1().endpointSlices().inNamespace("kiln").withName("kiln-abc").delete();
            await(seen, Set.of("http://10.0.0.4:5000"));
        }
    }

    @Test
    void thePortNamedHttpWinsAndAddressesWithoutOneUseTheDefault() {
        EndpointSlice twoPorts = new EndpointSliceBuilder(slice("x", "kiln", "10.0.0.7"))
                .withPorts().addNewPort().withName("metrics").withPort(9000).endPort().addNewPort().withName("http").withPort(8080).endPort()
                .build();
        assertEquals(Set.of("http://10.0.0.7:8080"), EndpointSliceWatch.peers(java.util.List.of(twoPorts), 5000));
        EndpointSlice noPorts = new EndpointSliceBuilder(slice("y", "kiln", "fd00::7")).withPorts().build();
        assertEquals(Set.of("http://[fd00::7]:5000"), EndpointSliceWatch.peers(java.util.List.of(noPorts), 5000));
    }
}
