package dev.kiln.app.cluster;

import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * The peers of a Kubernetes Service: the ready addresses of its discovery.k8s.io/v1 EndpointSlices,
 * watched, so a replica that starts, stops or fails its readiness probe joins or leaves the hashing
 * within a watch event.
 */
public final class EndpointSliceWatch implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(EndpointSliceWatch.class);
    static final String SERVICE_LABEL = "kubernetes.io/service-name";

    private final KubernetesClient client;
    private final String namespace;
    private final String service;
    private final int defaultPort;
    private final Consumer<Set<String>> onChange;
    private SharedIndexInformer<EndpointSlice> informer;

    public EndpointSliceWatch(KubernetesClient client, String namespace, String service, int defaultPort, Consumer<Set<String>> onChange) {
        this.client = client;
        this.namespace = namespace;
        this.service = service;
        this.defaultPort = defaultPort;
        this.onChange = onChange;
    }

    public void start() {
        // not inform(): its first events would arrive before the informer is assigned for publish() to read
        informer = client.discovery().v1().endpointSlices().inNamespace(namespace).withLabel(SERVICE_LABEL, service)
                .runnableInformer(0);
        informer.addEventHandler(new ResourceEventHandler<>() {
                    @Override
                    public void onAdd(EndpointSlice slice) {
                        publish();
                    }

                    @Override
                    public void onUpdate(EndpointSlice before, EndpointSlice after) {
                        publish();
                    }

                    @Override
                    public void onDelete(EndpointSlice slice, boolean finalStateUnknown) {
                        publish();
                    }
                });
        informer.start();
        LOG.infof("peers: watching the EndpointSlices of service %s/%s", namespace, service);
    }

    private synchronized void publish() {
        onChange.accept(peers(informer.getStore().list(), defaultPort));
    }

    /** {@code http://address:port} of every ready endpoint; the port named {@code http}, else the slice's first. */
    static Set<String> peers(List<EndpointSlice> slices, int defaultPort) {
        Set<String> urls = new LinkedHashSet<>();
        for (EndpointSlice slice : slices) {
            if (slice.getAddressType() != null && slice.getAddressType().equals("FQDN")) {
                continue;
            }
            int port = port(slice.getPorts(), defaultPort);
            for (Endpoint endpoint : slice.getEndpoints() == null ? List.<Endpoint>of() : slice.getEndpoints()) {
                boolean ready = endpoint.getConditions() == null || endpoint.getConditions().getReady() == null
                        || endpoint.getConditions().getReady();
                if (ready && endpoint.getAddresses() != null && !endpoint.getAddresses().isEmpty()) {
                    String address = endpoint.getAddresses().get(0);
                    urls.add("http://" + (address.contains(":") ? "[" + address + "]" : address) + ":" + port);
                }
            }
        }
        return urls;
    }

    private static int port(List<EndpointPort> ports, int defaultPort) {
        if (ports == null || ports.isEmpty()) {
            return defaultPort;
        }
        for (EndpointPort port : ports) {
            if ("http".equals(port.getName()) && port.getPort() != null) {
                return port.getPort();
            }
        }
        return ports.get(0).getPort() == null ? defaultPort : ports.get(0).getPort();
    }

    @Override
    public void close() {
        if (informer != null) {
            informer.close();
        }
    }
}
