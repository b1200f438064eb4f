package dev.kiln.app.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.KubeManifests;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** kubernetes/components/peers on the cluster overlay, rendered by the real kubectl kustomize. */
class PeersComponentTest {
    @TempDir
    Path work;

    @Test
    void theComponentGrantsTheEndpointSliceWatchAndWiresDiscoveryIntoTheGateway() {
        List<HasMetadata> objects = KubeManifests.render("cluster", "registry.example/kiln:test", work, List.of("peers"));
        Role role = objects.stream().filter(o -> o instanceof Role && o.getMetadata().getName().equals("kiln-peers"))
                .map(Role.class::cast).findFirst().orElseThrow();
        assertEquals(1, role.getRules().size());
        assertEquals(List.of("discovery.k8s.io"), role.getRules().get(0).getApiGroups());
        assertEquals(List.of("endpointslices"), role.getRules().get(0).getResources());
        assertEquals(List.of("get", "list", "watch"), role.getRules().get(0).getVerbs(), "what an informer needs, nothing that writes");
        RoleBinding binding = objects.stream().filter(o -> o instanceof RoleBinding && o.getMetadata().getName().equals("kiln-peers"))
                .map(RoleBinding.class::cast).findFirst().orElseThrow();
        assertEquals("kiln", binding.getSubjects().get(0).getName());
        assertEquals("kiln", binding.getMetadata().getNamespace(), "namespaced even when the component is added after the overlay's namespace");
        assertEquals("kiln", binding.getSubjects().get(0).getNamespace());
        assertEquals("kiln", role.getMetadata().getNamespace());

        Deployment gateway = KubeManifests.one(objects, Deployment.class);
        Map<String, EnvVar> env = gateway.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv().stream()
                .collect(Collectors.toMap(EnvVar::getName, e -> e));
        assertEquals("kiln", env.get("KILN_CLUSTER_SERVICE").getValue(), "the Service the EndpointSlices belong to");
        assertEquals("status.podIP", env.get("POD_IP").getValueFrom().getFieldRef().getFieldPath());
        assertEquals("kiln-peers", env.get("KILN_CLUSTER_PEER_TOKEN").getValueFrom().getSecretKeyRef().getName());
        assertTrue(env.containsKey("QUARKUS_CONFIG_LOCATIONS"), "the overlay's own env is kept");
    }
}
