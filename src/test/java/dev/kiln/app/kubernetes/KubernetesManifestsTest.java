package dev.kiln.app.kubernetes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.app.config.KilnConfig;
import dev.kiln.builder.gateway.BuildSpec;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Tools;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.StringReader;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The kustomize overlays render with the real {@code kubectl kustomize}, every object parses with
 * the fabric8 model, and the pieces agree with each other and with the code: the Role grants
 * exactly {@link RunnerPermissions#USED}, the Deployment's probes, store volume and config are
 * there, the NetworkPolicy selects the pods {@link BuildJobSpec} makes, and every configured
 * {@code kiln.builds.kubernetes.*} key is one Kiln knows.
 */
class KubernetesManifestsTest {

    private static List<HasMetadata> render(String overlay) {
        java.nio.file.Path kubectl = Tools.require("kubectl", "kubernetes-client");
        ExecResult result = Tools.run(List.of(kubectl.toString(), "kustomize", "kubernetes/overlays/" + overlay), Map.of(), 120);
        assertEquals(0, result.exitCode(), "kubectl kustomize kubernetes/overlays/" + overlay + ": " + result.stderr());
        List<HasMetadata> objects = new ArrayList<>();
        for (String document : result.stdout().split("(?m)^---\\s*$")) {
            if (!document.isBlank()) {
                objects.add(Serialization.unmarshal(document, HasMetadata.class));
            }
        }
        return objects;
    }

    private static <T extends HasMetadata> List<T> all(List<HasMetadata> objects, Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    private static <T extends HasMetadata> T one(List<HasMetadata> objects, Class<T> type) {
        List<T> found = all(objects, type);
        assertEquals(1, found.size(), "one " + type.getSimpleName() + " in " + found);
        return found.get(0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "cluster", "tls"})
    void everyOverlayRendersToObjectsThatFitTogether(String overlay) throws IOException {
        List<HasMetadata> objects = render(overlay);
        assertEquals(List.of("ConfigMap", "Deployment", "Namespace", "NetworkPolicy", "NetworkPolicy", "PersistentVolumeClaim",
                "Role", "RoleBinding", "Service", "ServiceAccount"), objects.stream().map(HasMetadata::getKind).sorted().toList());
        String namespace = one(objects, Namespace.class).getMetadata().getName();
        for (HasMetadata o : objects) {
            if (!(o instanceof Namespace)) {
                assertEquals(namespace, o.getMetadata().getNamespace(), o.getKind() + " " + o.getMetadata().getName());
            }
        }

        // RBAC: exactly what the runner asks for, bound to the gateway's service account
        Role role = one(objects, Role.class);
        Set<RunnerPermissions.Permission> granted = new HashSet<>();
        for (PolicyRule rule : role.getRules()) {
            for (String group : rule.getApiGroups()) {
                for (String resource : rule.getResources()) {
                    for (String verb : rule.getVerbs()) {
                        assertTrue(granted.add(new RunnerPermissions.Permission(group, resource, verb)), "granted twice: " + resource + " " + verb);
                    }
                }
            }
            assertFalse(rule.getVerbs().contains("*") || rule.getResources().contains("*"), "no wildcards: " + rule);
        }
        assertEquals(Set.copyOf(RunnerPermissions.USED), granted);
        PolicyRule secretRule = role.getRules().stream().filter(r -> r.getResources().contains("secrets")).findFirst().orElseThrow();
        assertEquals(List.of("kiln-registry"), secretRule.getResourceNames(), "only the registry Secret can be read");
        RoleBinding binding = one(objects, RoleBinding.class);
        assertEquals(role.getMetadata().getName(), binding.getRoleRef().getName());
        ServiceAccount account = one(objects, ServiceAccount.class);
        assertEquals(List.of("ServiceAccount/" + account.getMetadata().getName()),
                binding.getSubjects().stream().map(s -> s.getKind() + "/" + s.getName()).toList());

        // the gateway: probes, the store on its claim, the config from the generated ConfigMap
        Deployment deployment = one(objects, Deployment.class);
        var pod = deployment.getSpec().getTemplate().getSpec();
        assertEquals(account.getMetadata().getName(), pod.getServiceAccountName());
        Container gateway = pod.getContainers().get(0);
        assertEquals("/q/health/ready", gateway.getReadinessProbe().getHttpGet().getPath());
        assertEquals("/q/health/live", gateway.getLivenessProbe().getHttpGet().getPath());
        assertEquals(5000, gateway.getPorts().get(0).getContainerPort());
        assertEquals(List.of("serve"), gateway.getArgs());
        assertEquals(false, gateway.getSecurityContext().getPrivileged());
        if (overlay.equals("cluster")) {
            assertEquals(true, pod.getSecurityContext().getRunAsNonRoot(), "a gateway that builds nothing itself runs as non-root");
        } else {
            // builds in the gateway's pod: the namespace sandbox's set-up capabilities, never privileged
            assertTrue(gateway.getSecurityContext().getCapabilities().getAdd().contains("SYS_ADMIN"), gateway.getSecurityContext().toString());
        }
        assertEquals(true, gateway.getSecurityContext().getReadOnlyRootFilesystem());
        assertEquals(List.of("ALL"), gateway.getSecurityContext().getCapabilities().getDrop());
        Map<String, Volume> volumes = pod.getVolumes().stream().collect(Collectors.toMap(Volume::getName, v -> v));
        PersistentVolumeClaim claim = one(objects, PersistentVolumeClaim.class);
        assertEquals(claim.getMetadata().getName(), volumes.get("cache-store").getPersistentVolumeClaim().getClaimName());
        ConfigMap config = one(objects, ConfigMap.class);
        assertEquals(config.getMetadata().getName(), volumes.get("config").getConfigMap().getName());
        assertEquals("Recreate", deployment.getSpec().getStrategy().getType(), "one writer per store, also during an upgrade");

        Properties kiln = new Properties();
        kiln.load(new StringReader(config.getData().get("kiln.properties")));
        Properties runner = new Properties();
        runner.load(new StringReader(config.getData().get("runner.properties")));
        String store = kiln.getProperty("kiln.store");
        assertTrue(store.startsWith(gateway.getVolumeMounts().stream().filter(m -> m.getName().equals("cache-store")).findFirst()
                .orElseThrow().getMountPath() + "/"), "the store lives on the claim: " + store);
        assertEquals(overlay.equals("cluster") ? "kubernetes" : "local", runner.getProperty("kiln.builds.runner"));
        // Quarkus takes a key from the first file listed that sets it: the base's defaults go last
        String locations = gateway.getEnv().stream().filter(e -> e.getName().equals("QUARKUS_CONFIG_LOCATIONS")).findFirst()
                .orElseThrow().getValue();
        String mountPath = gateway.getVolumeMounts().stream().filter(m -> m.getName().equals("config")).findFirst()
                .orElseThrow().getMountPath();
        List<String> listed = List.of(locations.split(","));
        assertEquals(Set.copyOf(config.getData().keySet()), listed.stream().map(l -> l.substring(l.lastIndexOf('/') + 1))
                .collect(Collectors.toSet()), "every file of the ConfigMap is read: " + locations);
        assertTrue(listed.stream().allMatch(l -> l.startsWith("file:" + mountPath + "/")), locations);
        assertTrue(locations.endsWith("/kiln.properties"), "the base's kiln.properties is listed last, so an overlay's file wins: " + locations);

        // the Service reaches the gateway's pods on 5000
        Service service = one(objects, Service.class);
        assertEquals(5000, service.getSpec().getPorts().get(0).getPort());
        assertTrue(deployment.getSpec().getTemplate().getMetadata().getLabels().entrySet().containsAll(
                service.getSpec().getSelector().entrySet()));

        // build pods are selected by the policy that shuts their ingress; the gateway's lets 5000 in
        BuildJobSpec.Settings settings = settings(runner, namespace);
        var buildPodLabels = BuildJobSpec.job("0123456789abcdef0123", new BuildSpec(null, null, null, null, null, null, false, null),
                "http://x", settings).getSpec().getTemplate().getMetadata().getLabels();
        Map<String, NetworkPolicy> policies = all(objects, NetworkPolicy.class).stream()
                .collect(Collectors.toMap(p -> p.getMetadata().getName(), p -> p));
        assertTrue(buildPodLabels.entrySet().containsAll(policies.get("kiln-builds").getSpec().getPodSelector().getMatchLabels().entrySet()));
        assertEquals(List.of(), policies.get("kiln-builds").getSpec().getIngress());
        assertTrue(deployment.getSpec().getTemplate().getMetadata().getLabels().entrySet()
                .containsAll(policies.get("kiln-gateway").getSpec().getPodSelector().getMatchLabels().entrySet()));
        assertEquals(5000, policies.get("kiln-gateway").getSpec().getIngress().get(0).getPorts().get(0).getPort().getIntVal());
        // build pods call out only to the gateway's pods on 5000, DNS, and HTTPS outside the cluster's private ranges
        var egress = policies.get("kiln-builds").getSpec().getEgress();
        assertTrue(deployment.getSpec().getTemplate().getMetadata().getLabels().entrySet()
                .containsAll(egress.get(0).getTo().get(0).getPodSelector().getMatchLabels().entrySet()));
        assertEquals(5000, egress.get(0).getPorts().get(0).getPort().getIntVal());
        var outside = egress.stream().flatMap(r -> r.getTo().stream()).filter(t -> t.getIpBlock() != null).findFirst().orElseThrow().getIpBlock();
        assertTrue(outside.getExcept().containsAll(List.of("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")), outside.toString());

        // Pod Security: what the pods of this overlay need, and no more
        Map<String, String> nsLabels = one(objects, Namespace.class).getMetadata().getLabels();
        assertEquals(overlay.equals("cluster") ? "baseline" : "privileged", nsLabels.get("pod-security.kubernetes.io/enforce"));
        assertEquals("restricted", nsLabels.get("pod-security.kubernetes.io/audit"));

        if (overlay.equals("cluster")) {
            assertEquals(service.getMetadata().getName() + "." + namespace + ".svc.cluster.local:5000",
                    runner.getProperty("kiln.builds.kubernetes.gateway"), "build pods reach the gateway through its Service");
            assertEquals(secretRule.getResourceNames().get(0), runner.getProperty("kiln.builds.kubernetes.docker-config-secret"));
        }
        Set<String> known = new HashSet<>();
        for (Method m : KilnConfig.Kubernetes.class.getMethods()) {
            known.add("kiln.builds.kubernetes." + m.getName().replaceAll("([A-Z])", "-$1").toLowerCase(Locale.ROOT));
        }
        for (String key : runner.stringPropertyNames()) {
            if (key.startsWith("kiln.builds.kubernetes.")) {
                assertTrue(known.contains(key), "unknown setting " + key + " (known: " + known + ")");
            }
        }
    }

    private static BuildJobSpec.Settings settings(Properties p, String namespace) {
        return new BuildJobSpec.Settings(namespace, p.getProperty("kiln.builds.kubernetes.image", "kiln"), List.of(),
                p.getProperty("kiln.builds.kubernetes.gateway", "kiln:5000"), false, true, "cache/layers",
                p.getProperty("kiln.builds.kubernetes.docker-config-secret"), null,
                p.getProperty("kiln.builds.kubernetes.sandbox", "in-place"), Map.of(), Map.of(), Duration.ofHours(1),
                Duration.ofHours(1), "kiln", List.of(), Boolean.parseBoolean(p.getProperty("kiln.builds.allow-network", "false")));
    }

}
