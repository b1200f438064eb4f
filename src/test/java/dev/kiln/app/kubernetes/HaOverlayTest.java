package dev.kiln.app.kubernetes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.app.cli.ServeCommand;
import dev.kiln.store.s3.S3Settings;
import dev.kiln.testkit.KubeManifests;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import java.io.StringReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The {@code ha} overlay rendered by the real {@code kubectl kustomize}: three replicas on the S3
 * store from the Secret kiln-s3, no claim, anti-affinity and a PodDisruptionBudget that select the
 * gateway's pods, and exactly the Lease and EndpointSlice permissions replicas use. The gateway's
 * args, with $(VAR) expanded as the kubelet does, parse with the real {@code kiln serve} parser.
 */
class HaOverlayTest {
    @TempDir
    Path work;

    @Test
    void threeReplicasOnTheBucketWithTheirLeaseAndNoClaim() throws Exception {
        List<HasMetadata> objects = KubeManifests.render("ha", "kiln:test", work);
        assertTrue(objects.stream().noneMatch(PersistentVolumeClaim.class::isInstance), "the store is the bucket: no claim");

        Deployment deployment = KubeManifests.one(objects, Deployment.class);
        assertEquals(3, deployment.getSpec().getReplicas());
        assertEquals("RollingUpdate", deployment.getSpec().getStrategy().getType(), "replicas share no volume: roll one at a time");
        var pod = deployment.getSpec().getTemplate().getSpec();
        Map<String, String> podLabels = deployment.getSpec().getTemplate().getMetadata().getLabels();
        Map<String, Volume> volumes = pod.getVolumes().stream().collect(Collectors.toMap(Volume::getName, v -> v));
        assertTrue(volumes.values().stream().noneMatch(v -> v.getPersistentVolumeClaim() != null), volumes.toString());
        assertNotNull(volumes.get("cache-store").getEmptyDir().getSizeLimit(), "the local cache is bounded");

        var antiAffinity = pod.getAffinity().getPodAntiAffinity().getPreferredDuringSchedulingIgnoredDuringExecution().get(0)
                .getPodAffinityTerm();
        assertEquals("kubernetes.io/hostname", antiAffinity.getTopologyKey());
        assertTrue(podLabels.entrySet().containsAll(antiAffinity.getLabelSelector().getMatchLabels().entrySet()));
        PodDisruptionBudget pdb = KubeManifests.one(objects, PodDisruptionBudget.class);
        assertEquals(2, pdb.getSpec().getMinAvailable().getIntVal());
        assertTrue(podLabels.entrySet().containsAll(pdb.getSpec().getSelector().getMatchLabels().entrySet()));

        // the Lease and peer discovery, granted to the pods' service account, nothing more
        Role replicas = objects.stream().filter(Role.class::isInstance).map(Role.class::cast)
                .filter(r -> r.getMetadata().getName().equals("kiln-replicas")).findFirst().orElseThrow();
        Set<String> granted = new TreeSet<>();
        for (PolicyRule rule : replicas.getRules()) {
            for (String resource : rule.getResources()) {
                for (String verb : rule.getVerbs()) {
                    granted.add(rule.getApiGroups().get(0) + "/" + resource + ":" + verb);
                }
            }
        }
        assertEquals(new TreeSet<>(List.of("coordination.k8s.io/leases:get", "coordination.k8s.io/leases:create",
                "coordination.k8s.io/leases:update")), granted);
        RoleBinding binding = objects.stream().filter(RoleBinding.class::isInstance).map(RoleBinding.class::cast)
                .filter(b -> b.getRoleRef().getName().equals("kiln-replicas")).findFirst().orElseThrow();
        assertEquals(pod.getServiceAccountName(), binding.getSubjects().get(0).getName());

        // peers: without them every replica fetches each mirror miss from the upstream itself (HaOverlayIT)
        Role peers = objects.stream().filter(Role.class::isInstance).map(Role.class::cast)
                .filter(r -> r.getMetadata().getName().equals("kiln-peers")).findFirst()
                .orElseThrow(() -> new AssertionError("the overlay adds components/peers"));
        assertEquals(List.of("endpointslices"), peers.getRules().get(0).getResources());
        assertTrue(peers.getRules().get(0).getVerbs().containsAll(List.of("list", "watch")));
        assertTrue(objects.stream().filter(RoleBinding.class::isInstance).map(RoleBinding.class::cast)
                .anyMatch(b -> b.getRoleRef().getName().equals("kiln-peers")
                        && b.getSubjects().get(0).getName().equals(pod.getServiceAccountName())));
        Map<String, EnvVar> peerEnv = pod.getContainers().get(0).getEnv().stream().collect(Collectors.toMap(EnvVar::getName, e -> e));
        assertEquals(KubeManifests.one(objects, Service.class).getMetadata().getName(), peerEnv.get("KILN_CLUSTER_SERVICE").getValue(),
                "the Service whose EndpointSlices list the replicas");

        // the S3 settings and credentials from the Secret; the args parse as kiln serve's
        Container gateway = pod.getContainers().get(0);
        Map<String, EnvVar> env = gateway.getEnv().stream().collect(Collectors.toMap(EnvVar::getName, e -> e));
        for (String name : List.of("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "KILN_S3_STORE", "KILN_S3_ENDPOINT", "KILN_S3_REGION",
                // for kiln fsck / kiln gc in the pod, which read kiln.store* and take no --s3-* args
                "KILN_STORE", "KILN_STORE_S3_ENDPOINT", "KILN_STORE_S3_REGION")) {
            assertEquals("kiln-s3", env.get(name).getValueFrom().getSecretKeyRef().getName(), name);
        }
        Map<String, String> secret = Map.of("store", "s3://kiln-store/prod", "endpoint", "http://minio.storage:9000",
                "region", "eu-west-1", "AWS_ACCESS_KEY_ID", "k", "AWS_SECRET_ACCESS_KEY", "s");
        List<String> args = new ArrayList<>();
        for (String arg : gateway.getArgs()) {
            args.add(KubeManifests.expand(arg, name -> {
                EnvVar var = env.get(name);
                assertNotNull(var, "the kubelet leaves an undefined $(" + name + ") as it is");
                return secret.get(var.getValueFrom().getSecretKeyRef().getKey());
            }));
        }
        assertEquals("serve", args.get(0));
        ServeCommand serve = new ServeCommand();
        CommandLine.ParseResult parsed = new CommandLine(serve).parseArgs(args.subList(1, args.size()).toArray(String[]::new));
        assertEquals("s3://kiln-store/prod", parsed.matchedOptionValue("--store", null));
        assertEquals("http://minio.storage:9000", parsed.matchedOptionValue("--s3-endpoint", null));
        assertEquals("eu-west-1", parsed.matchedOptionValue("--s3-region", null));

        ConfigMap config = KubeManifests.one(objects, ConfigMap.class);
        Properties ha = new Properties();
        ha.load(new StringReader(config.getData().get("ha.properties")));
        // SmallRye takes a key from the first location that has it: the overlay's file goes before the base's
        assertTrue(env.get("QUARKUS_CONFIG_LOCATIONS").getValue().startsWith("file:/etc/kiln/ha.properties,"),
                env.get("QUARKUS_CONFIG_LOCATIONS").getValue());
        assertEquals("lease", ha.getProperty("kiln.gc.lock"));
        String mount = gateway.getVolumeMounts().stream().filter(v -> v.getName().equals("cache-store")).findFirst().orElseThrow()
                .getMountPath();
        assertTrue(ha.getProperty("kiln.store.s3.local-dir").startsWith(mount + "/"), "the local cache is on the emptyDir");
        S3Settings settings = S3Settings.parse(args.get(2), Optional.empty(), "eu-west-1", true, false, Path.of("/x"), 1);
        assertEquals("kiln-store", settings.bucket());
        assertEquals(false, gateway.getSecurityContext().getPrivileged());
    }
}
