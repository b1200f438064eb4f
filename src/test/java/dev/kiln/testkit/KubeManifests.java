package dev.kiln.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Kiln's kustomize overlays as a user deploys them: a kustomization of the test's own that takes
 * {@code kubernetes/overlays/NAME} as its resource and sets the image (as {@code kustomize edit
 * set image} would), rendered by the real {@code kubectl kustomize} and parsed with the fabric8 model.
 */
public final class KubeManifests {
    private KubeManifests() {
    }

    public static List<HasMetadata> render(String overlay, String image, Path work) {
        return render(overlay, image, work, List.of());
    }

    /** As {@link #render(String, String, Path)}, with {@code kubernetes/components/NAME}s added to the overlay. */
    public static List<HasMetadata> render(String overlay, String image, Path work, List<String> components) {
        Path kubectl = Tools.require("kubectl", "kubernetes-client");
        try {
            Path dir = Files.createDirectories(work.resolve("kustomize-" + overlay));
            Path target = Path.of("kubernetes/overlays", overlay).toAbsolutePath();
            int colon = image.lastIndexOf(':');
            Files.writeString(dir.resolve("kustomization.yaml"), "resources:\n  - " + dir.relativize(target) + "\n"
                    + "images:\n  - name: kiln\n    newName: " + image.substring(0, colon) + "\n    newTag: " + image.substring(colon + 1) + "\n"
                    + (components.isEmpty() ? "" : "components:\n" + components.stream()
                            .map(c -> "  - " + dir.relativize(Path.of("kubernetes/components", c).toAbsolutePath()) + "\n")
                            .collect(java.util.stream.Collectors.joining())));
            ExecResult result = Tools.run(List.of(kubectl.toString(), "kustomize", dir.toString()), Map.of(), 120);
            assertEquals(0, result.exitCode(), "kubectl kustomize " + dir + ": " + result.stderr());
            List<HasMetadata> objects = new ArrayList<>();
            for (String document : result.stdout().split("(?m)^---\\s*$")) {
                if (!document.isBlank()) {
                    objects.add(Serialization.unmarshal(document, HasMetadata.class));
                }
            }
            return objects;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * podman 4.3 makes an emptyDir a named volume called after the pod's volume, machine-wide: two
     * pods with an emptyDir "tmp" would share it. Each gets a name of its own, as each pod has its own.
     */
    public static void uniqueEmptyDirs(io.fabric8.kubernetes.api.model.PodSpec spec, String prefix) {
        for (var volume : spec.getVolumes()) {
            if (volume.getEmptyDir() != null) {
                String old = volume.getName();
                volume.setName(prefix + old);
                spec.getContainers().forEach(c -> c.getVolumeMounts().stream().filter(m -> m.getName().equals(old))
                        .forEach(m -> m.setName(prefix + old)));
            }
        }
    }

    private static final java.util.regex.Pattern VARIABLE = java.util.regex.Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

    /**
     * {@code $(NAME)} in a container's command or args replaced as the kubelet does it, with
     * {@code valueOf(NAME)}; a variable it answers null for stays as written, as the kubelet leaves it.
     */
    public static String expand(String arg, java.util.function.Function<String, String> valueOf) {
        java.util.regex.Matcher m = VARIABLE.matcher(arg);
        StringBuilder expanded = new StringBuilder();
        while (m.find()) {
            String value = valueOf.apply(m.group(1));
            m.appendReplacement(expanded, java.util.regex.Matcher.quoteReplacement(value == null ? m.group() : value));
        }
        return m.appendTail(expanded).toString();
    }

    public static <T extends HasMetadata> T one(List<HasMetadata> objects, Class<T> type) {
        List<T> found = objects.stream().filter(type::isInstance).map(type::cast).toList();
        assertEquals(1, found.size(), "one " + type.getSimpleName() + " in the rendered manifests");
        return found.get(0);
    }

    /**
     * What podman 4.3's {@code kube play} can run of a rendered overlay, with the changes a kubelet
     * stand-in on one shared machine needs and nothing else: names get the run's prefix (podman's
     * pods and volumes are machine-wide), the gateway gets a free port (on the host's network every
     * pod shares the machine's ports; a pod network would give it its own 5000) and the ports list
     * goes (host networking refuses published ports); the probes follow the port. Everything else —
     * image, args, env, mounts, securityContext — is played as rendered. RBAC, Service, Namespace
     * and NetworkPolicy have no meaning to podman and are left out.
     */
    public static String forPodman(List<HasMetadata> objects, String prefix, int port, boolean withClaim) {
        List<HasMetadata> played = new ArrayList<>();
        ConfigMap config = Serialization.clone(one(objects, ConfigMap.class));
        String configName = config.getMetadata().getName();
        config.getMetadata().setName(prefix + configName);
        played.add(config);
        // the ha overlay has no claim: its store is a bucket
        List<PersistentVolumeClaim> claims = objects.stream().filter(PersistentVolumeClaim.class::isInstance)
                .map(PersistentVolumeClaim.class::cast).toList();
        String claimName = claims.isEmpty() ? null : prefix + one(objects, PersistentVolumeClaim.class).getMetadata().getName();
        if (withClaim && claimName != null) {
            PersistentVolumeClaim copy = Serialization.clone(claims.get(0));
            copy.getMetadata().setName(claimName);
            played.add(copy);
        }
        Deployment deployment = Serialization.clone(one(objects, Deployment.class));
        deployment.getMetadata().setName(prefix + deployment.getMetadata().getName());
        // podman plays every replica, and on the host's network they would all take this one port
        deployment.getSpec().setReplicas(1);
        deployment.getSpec().getTemplate().getSpec().getVolumes().stream().filter(v -> v.getPersistentVolumeClaim() != null)
                .forEach(v -> v.getPersistentVolumeClaim().setClaimName(claimName));
        deployment.getSpec().getTemplate().getSpec().getVolumes().stream().filter(v -> v.getConfigMap() != null)
                .forEach(v -> v.getConfigMap().setName(prefix + configName));
        uniqueEmptyDirs(deployment.getSpec().getTemplate().getSpec(), prefix);
        // Secrets come from podman's own store under the run's names (Podman#kubeSecret)
        deployment.getSpec().getTemplate().getSpec().getVolumes().stream().filter(v -> v.getSecret() != null)
                .forEach(v -> v.getSecret().setSecretName(prefix + v.getSecret().getSecretName()));
        Container gateway = deployment.getSpec().getTemplate().getSpec().getContainers().get(0);
        for (EnvVar var : gateway.getEnv()) {
            var from = var.getValueFrom();
            if (from != null && from.getSecretKeyRef() != null) {
                from.getSecretKeyRef().setName(prefix + from.getSecretKeyRef().getName());
            }
            // podman 4.3 knows no status.podIP; on the host's network the pod's address is the loopback
            if (from != null && from.getFieldRef() != null && "status.podIP".equals(from.getFieldRef().getFieldPath())) {
                var.setValueFrom(null);
                var.setValue("127.0.0.1");
            }
        }
        gateway.setPorts(null);
        gateway.getEnv().add(new EnvVar("KILN_PORT", Integer.toString(port), null));
        for (var probe : List.of(gateway.getReadinessProbe(), gateway.getLivenessProbe())) {
            probe.getHttpGet().setPort(new io.fabric8.kubernetes.api.model.IntOrString(port));
        }
        played.add(deployment);
        StringBuilder yaml = new StringBuilder();
        for (HasMetadata o : played) {
            yaml.append(Serialization.asYaml(o));
        }
        return yaml.toString();
    }
}
