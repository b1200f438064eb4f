package dev.kiln.app.kubernetes;

import dev.kiln.builder.egress.EgressRules;
import dev.kiln.builder.gateway.BuildSpec;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PodSecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code batch/v1} Job that runs one gateway build: one pod, never retried, the executor image
 * with kaniko-style flags that point back at the gateway for base images, the layer cache and the
 * context. The digest comes back through {@code --digest-file /dev/termination-log}.
 */
public final class BuildJobSpec {
    public static final String MANAGED_BY = "app.kubernetes.io/managed-by";
    public static final String INSTANCE = "app.kubernetes.io/instance";
    public static final String COMPONENT = "app.kubernetes.io/component";
    public static final String BUILD_ID = "kiln.dev/build-id";
    public static final String KILN = "kiln";
    public static final String CONTAINER = "executor";
    /** Under {@code /kiln}, which the in-place executor keeps out of the image it builds. */
    public static final String DOCKER_CONFIG_DIR = "/kiln/.docker";
    static final String TERMINATION_LOG = "/dev/termination-log";
    /** java.io.tmpdir of Kiln's image. */
    static final String TMP_DIR = "/kiln/tmp";

    /**
     * Where and how build pods run.
     *
     * @param namespace          where the Jobs are created
     * @param image              the executor image; its entrypoint is {@code kiln}
     * @param command            replaces the image's entrypoint when not empty
     * @param gateway            {@code host:port} at which pods reach the gateway (its Service)
     * @param gatewayTls         whether that address speaks TLS; plain HTTP otherwise
     * @param ownMirror          pull Docker Hub bases through the gateway ({@code --registry-mirror})
     * @param cacheRepo          repository of the layer cache inside the gateway, e.g. {@code cache/layers}
     * @param dockerConfigSecret a {@code kubernetes.io/dockerconfigjson} Secret mounted as {@code DOCKER_CONFIG}; null for none
     * @param serviceAccount     the pods' service account; null for the namespace default
     * @param sandbox            the executor's {@code --sandbox}; it decides the securityContext
     * @param requests           resource requests, e.g. {@code cpu=500m, memory=1Gi}
     * @param limits             resource limits
     * @param instance           tells this gateway's Jobs from another's in the same namespace
     * @param insecureRegistries registries the executor reaches over plain HTTP ({@code --insecure-registry}), e.g. an
     *                           in-cluster destination; the gateway itself is added when it speaks plain HTTP
     * @param allowNetwork       whether RUN may use the pod's network in the namespaces sandbox
     *                           ({@code kiln.builds.allow-network}); otherwise each RUN has loopback only
     * @param egressAllow        what the executor's egress proxy lets such a RUN reach although it is private
     *                           ({@code kiln.builds.egress.allow}, the executor's {@code --egress-allow})
     * @param maxParallelStages  the executor's {@code --max-parallel-stages} ({@code kiln.builds.max-parallel-stages});
     *                           null leaves it to the executor: the processors its pod sees
     */
    public record Settings(String namespace, String image, List<String> command, String gateway, boolean gatewayTls,
                           boolean ownMirror, String cacheRepo, String dockerConfigSecret, String serviceAccount,
                           String sandbox, Map<String, String> requests, Map<String, String> limits,
                           Duration activeDeadline, Duration ttlAfterFinished, String instance, List<String> insecureRegistries,
                           boolean allowNetwork, List<String> egressAllow, Integer maxParallelStages) {
        public Settings {
            command = List.copyOf(command);
            egressAllow = List.copyOf(egressAllow);
            // an entry the executor's parser would refuse fails the gateway's start, not every build
            EgressRules.allowing(egressAllow);
            insecureRegistries = List.copyOf(insecureRegistries);
            requests = Map.copyOf(requests);
            limits = Map.copyOf(limits);
            if (image == null || image.isBlank()) {
                throw new IllegalArgumentException("the Kubernetes build runner needs the executor image (kiln.builds.kubernetes.image)");
            }
            Profile.of(sandbox); // a sandbox no pod can run is refused when the gateway starts, not at the first build
            if (gateway == null || gateway.isBlank() || gateway.contains("/")) {
                throw new IllegalArgumentException("kiln.builds.kubernetes.gateway must be the host:port at which build pods reach the gateway, not "
                        + gateway);
            }
        }

        /** Without an egress allow list: the proxy refuses every private address. */
        public Settings(String namespace, String image, List<String> command, String gateway, boolean gatewayTls,
                        boolean ownMirror, String cacheRepo, String dockerConfigSecret, String serviceAccount,
                        String sandbox, Map<String, String> requests, Map<String, String> limits,
                        Duration activeDeadline, Duration ttlAfterFinished, String instance, List<String> insecureRegistries,
                        boolean allowNetwork) {
            this(namespace, image, command, gateway, gatewayTls, ownMirror, cacheRepo, dockerConfigSecret, serviceAccount,
                    sandbox, requests, limits, activeDeadline, ttlAfterFinished, instance, insecureRegistries, allowNetwork,
                    List.of());
        }

        /** With the executor's own number of stages at once. */
        public Settings(String namespace, String image, List<String> command, String gateway, boolean gatewayTls,
                        boolean ownMirror, String cacheRepo, String dockerConfigSecret, String serviceAccount,
                        String sandbox, Map<String, String> requests, Map<String, String> limits,
                        Duration activeDeadline, Duration ttlAfterFinished, String instance, List<String> insecureRegistries,
                        boolean allowNetwork, List<String> egressAllow) {
            this(namespace, image, command, gateway, gatewayTls, ownMirror, cacheRepo, dockerConfigSecret, serviceAccount,
                    sandbox, requests, limits, activeDeadline, ttlAfterFinished, instance, insecureRegistries, allowNetwork,
                    egressAllow, null);
        }

        /** The labels every Job and pod of this gateway carries. */
        public Map<String, String> selector() {
            return Map.of(MANAGED_BY, KILN, INSTANCE, instance);
        }

        public String gatewayUrl() {
            return (gatewayTls ? "https://" : "http://") + gateway;
        }
    }

    private BuildJobSpec() {
    }

    public static String jobName(String buildId) {
        return "kiln-build-" + buildId;
    }

    /**
     * @param context what the executor's {@code --context} gets: the gateway's one-time context URL
     *                for an uploaded context, else the URL the client named
     */
    public static Job job(String buildId, BuildSpec spec, String context, Settings settings) {
        Map<String, String> labels = new LinkedHashMap<>(settings.selector());
        labels.put(COMPONENT, "build");
        labels.put(BUILD_ID, buildId);
        Profile profile = Profile.of(settings.sandbox());
        List<EnvVar> env = new ArrayList<>();
        if (profile == Profile.IN_PLACE) {
            // only a container marked as an executor lets a build take over its own root
            env.add(new EnvVar("KILN_EXECUTOR_CONTAINER", "1", null));
        }
        List<VolumeMount> mounts = new ArrayList<>();
        List<Volume> volumes = new ArrayList<>();
        if (profile.readOnlyRoot) {
            // the image's java.io.tmpdir: the build dir, the blob cache and the sandbox's scratch files
            mounts.add(new VolumeMountBuilder().withName("tmp").withMountPath(TMP_DIR).build());
            volumes.add(new VolumeBuilder().withName("tmp").withNewEmptyDir().endEmptyDir().build());
        }
        if (settings.dockerConfigSecret() != null) {
            env.add(new EnvVar("DOCKER_CONFIG", DOCKER_CONFIG_DIR, null));
            mounts.add(new VolumeMountBuilder().withName("docker-config").withMountPath(DOCKER_CONFIG_DIR).withReadOnly(true).build());
            volumes.add(new VolumeBuilder().withName("docker-config").withNewSecret().withSecretName(settings.dockerConfigSecret())
                    .addNewItem().withKey(".dockerconfigjson").withPath("config.json").endItem().endSecret().build());
        }
        Map<String, String> annotations = profile.appArmorUnconfined
                ? Map.of("container.apparmor.security.beta.kubernetes.io/" + CONTAINER, "unconfined") : Map.of();
        return new JobBuilder()
                .withNewMetadata().withName(jobName(buildId)).withNamespace(settings.namespace()).withLabels(labels).endMetadata()
                .withNewSpec()
                .withBackoffLimit(0)
                .withActiveDeadlineSeconds(settings.activeDeadline().toSeconds())
                .withTtlSecondsAfterFinished(Math.toIntExact(settings.ttlAfterFinished().toSeconds()))
                .withNewTemplate()
                .withNewMetadata().withLabels(labels).withAnnotations(annotations.isEmpty() ? null : annotations).endMetadata()
                .withNewSpec()
                .withRestartPolicy("Never")
                .withServiceAccountName(settings.serviceAccount())
                .withAutomountServiceAccountToken(false) // the executor never talks to the API server
                .withEnableServiceLinks(false)
                .withSecurityContext(new PodSecurityContextBuilder().withNewSeccompProfile().withType(profile.seccomp).endSeccompProfile().build())
                .addNewContainer()
                .withName(CONTAINER)
                .withImage(settings.image())
                .withCommand(settings.command().isEmpty() ? null : settings.command())
                .withArgs(args(spec, context, settings))
                .withEnv(env)
                .withVolumeMounts(mounts)
                .withNewResources().withRequests(quantities(settings.requests())).withLimits(quantities(settings.limits())).endResources()
                .withTerminationMessagePath(TERMINATION_LOG)
                // the digest file on success; on failure the log's tail, so the error line reaches the build record
                .withTerminationMessagePolicy("FallbackToLogsOnError")
                .withSecurityContext(profile.container())
                .endContainer()
                .withVolumes(volumes)
                .endSpec()
                .endTemplate()
                .endSpec()
                .build();
    }

    /** The container securityContext a generated Job gets for {@code sandbox} ({@code in-place}, {@code namespaces}). */
    public static SecurityContext securityContext(String sandbox) {
        return Profile.of(sandbox).container();
    }

    /** {@code kiln build} flags, in kaniko's spelling. */
    public static List<String> args(BuildSpec spec, String context, Settings settings) {
        List<String> args = new ArrayList<>(List.of("build", "--context", context, "--dockerfile", spec.dockerfileInContext()));
        for (String destination : spec.destinations()) {
            args.addAll(List.of("--destination", destination));
        }
        if (spec.destinations().isEmpty()) {
            args.add("--no-push");
        }
        spec.buildArgs().entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> args.addAll(List.of("--build-arg", e.getKey() + "=" + e.getValue())));
        spec.labels().entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> args.addAll(List.of("--label", e.getKey() + "=" + e.getValue())));
        if (spec.target() != null) {
            args.addAll(List.of("--target", spec.target()));
        }
        if (spec.platform() != null) {
            args.addAll(List.of("--custom-platform", spec.platform()));
        }
        if (settings.ownMirror()) {
            args.addAll(List.of("--registry-mirror", settings.gateway()));
        }
        if (spec.cache()) {
            args.add("--cache");
        }
        args.addAll(List.of("--cache-repo", settings.gateway() + "/" + settings.cacheRepo()));
        if (!settings.gatewayTls()) {
            args.addAll(List.of("--insecure-registry", settings.gateway()));
        }
        for (String registry : settings.insecureRegistries()) {
            if (!registry.equals(settings.gateway())) {
                args.addAll(List.of("--insecure-registry", registry));
            }
        }
        if (Profile.of(settings.sandbox()) == Profile.NAMESPACES) {
            if (!settings.allowNetwork()) {
                // as in the gateway's own builds: each RUN gets loopback only unless the operator allows network
                // (kiln.builds.allow-network); in place, RUN shares the pod's network, which the NetworkPolicy limits
                args.addAll(List.of("--network", "none"));
            } else {
                // the executor's egress proxy then follows the gateway's rules, not its own defaults
                for (String allowed : settings.egressAllow()) {
                    args.addAll(List.of("--egress-allow", allowed));
                }
            }
        }
        if (settings.maxParallelStages() != null) {
            args.addAll(List.of("--max-parallel-stages", settings.maxParallelStages().toString()));
        }
        args.addAll(List.of("--sandbox", settings.sandbox(), "--digest-file", TERMINATION_LOG));
        return args;
    }

    private static Map<String, Quantity> quantities(Map<String, String> amounts) {
        Map<String, Quantity> map = new LinkedHashMap<>();
        amounts.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> map.put(e.getKey(), new Quantity(e.getValue())));
        return map;
    }

    /**
     * The tightest securityContext each sandbox still works under in Kiln's image; never privileged.
     * In-place unpacks base images over the container's own {@code /} with their owners and modes,
     * so it is root with the file capabilities that takes (kaniko's way). The namespace sandbox
     * mounts a fresh {@code /proc} for each RUN, which a runtime's masked {@code /proc} refuses to a
     * non-root user, so it is root with the capabilities its set-up uses; each RUN then runs in a
     * user namespace of its own with none over the pod. proot is not offered: it is not in the image
     * and does not isolate a RUN from the pod (docs/security.md).
     */
    enum Profile {
        IN_PLACE(List.of("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "SETFCAP", "SETGID", "SETUID"),
                false, false, false),
        /**
         * SETFCAP maps root into the RUN's user namespace; privilege escalation stays allowed because
         * with no_new_privs a RUN as root would get no capability inside its own namespace either.
         */
        NAMESPACES(List.of("SYS_ADMIN", "SETUID", "SETGID", "SETFCAP", "SYS_CHROOT", "CHOWN", "DAC_OVERRIDE", "FOWNER",
                "FSETID", "KILL"), true, true, true);

        final List<String> capabilities;
        final boolean readOnlyRoot;
        final boolean allowPrivilegeEscalation;
        /** The runtime's default AppArmor profile denies mount(2). */
        final boolean appArmorUnconfined;
        final String seccomp = "RuntimeDefault";

        Profile(List<String> capabilities, boolean readOnlyRoot, boolean allowPrivilegeEscalation, boolean appArmorUnconfined) {
            this.capabilities = capabilities;
            this.readOnlyRoot = readOnlyRoot;
            this.allowPrivilegeEscalation = allowPrivilegeEscalation;
            this.appArmorUnconfined = appArmorUnconfined;
        }

        static Profile of(String sandbox) {
            return switch (sandbox.toLowerCase(Locale.ROOT)) {
                case "in-place", "inplace" -> IN_PLACE;
                // auto picks the namespace sandbox in a pod with this profile
                case "namespaces", "namespace", "unshare", "auto" -> NAMESPACES;
                case "proot" -> throw new IllegalArgumentException("kiln.builds.kubernetes.sandbox=proot is not offered: proot is not "
                        + "in Kiln's image and does not isolate a build from its pod; use in-place or namespaces");
                default -> throw new IllegalArgumentException("kiln.builds.kubernetes.sandbox must be in-place, namespaces or auto, not "
                        + sandbox);
            };
        }

        SecurityContext container() {
            SecurityContextBuilder b = new SecurityContextBuilder()
                    .withPrivileged(false)
                    .withAllowPrivilegeEscalation(allowPrivilegeEscalation)
                    .withReadOnlyRootFilesystem(readOnlyRoot)
                    .withRunAsUser(0L)
                    .withRunAsGroup(0L)
                    .withRunAsNonRoot(false)
                    .withNewCapabilities().withDrop("ALL").withAdd(capabilities).endCapabilities();
            if (appArmorUnconfined) {
                // the field for clusters from 1.30 on; the pod annotation for older ones and podman
                b.withNewAppArmorProfile().withType("Unconfined").endAppArmorProfile();
            }
            return b.build();
        }
    }
}
