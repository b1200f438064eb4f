package dev.kiln.app.wiring;

import dev.kiln.app.config.ByteSizes;
import dev.kiln.app.config.KilnConfig;
import dev.kiln.app.kubernetes.BuildJobSpec;
import dev.kiln.app.kubernetes.KubernetesBuildRunner;
import dev.kiln.builder.gateway.BuildFiles;
import dev.kiln.builder.gateway.BuildRunner;
import dev.kiln.builder.gateway.BuildLimits;
import dev.kiln.builder.gateway.BuildService;
import dev.kiln.builder.gateway.ContextTokens;
import dev.kiln.builder.gateway.CredentialScope;
import dev.kiln.builder.gateway.ExecutorBuildRunner;
import dev.kiln.registry.mirror.MirrorService;
import dev.kiln.registry.mirror.UpstreamRouter;
import dev.kiln.registry.server.RegistryService;
import dev.kiln.store.FsFiles;
import dev.kiln.store.Store;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import dev.kiln.builder.egress.EgressRules;
import dev.kiln.builder.sandbox.CgroupV2;
import dev.kiln.builder.sandbox.SandboxPolicy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

@ApplicationScoped
public class BuildsProducer {
    private static final Logger LOG = Logger.getLogger(BuildsProducer.class);

    private KubernetesBuildRunner kubernetesRunner;

    @Produces
    @Singleton
    ContextTokens contextTokens(Store store) {
        try {
            return new ContextTokens(new BuildFiles(store.root()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the builds under " + store.root().resolve("builds") + ": " + e.getMessage(), e);
        }
    }

    @Produces
    @Singleton
    CredentialScope credentialScope(KilnConfig config) {
        return new CredentialScope(config.builds().pushAllow(), config.builds().pullAllow(), config.builds().s3Allow(),
                List.of(config.builds().kubernetes().gateway()));
    }

    /** At start-up, so builds a dead process left running are marked failed (or followed again) before anyone asks. */
    @Produces
    @Singleton
    @Startup
    BuildService builds(Store store, KilnConfig config, RegistryService registry, MirrorService mirror,
                        UpstreamRouter upstreams, ContextTokens tokens, Instance<KubernetesClient> kubernetes,
                        CredentialScope scope) {
        KilnConfig.Builds builds = config.builds();
        KilnConfig.BuildLimits l = builds.limits();
        SandboxPolicy policy = SandboxPolicy.DEFAULT.withSeccomp(builds.seccomp())
                .withCgroupLimits(new CgroupV2.Limits(
                        l.runMemory().map(m -> Long.toString(ByteSizes.parse(m))).orElse("max"),
                        l.runPids().map(String::valueOf).orElse("max"),
                        l.runCpus().map(c -> Math.round(c * 100_000) + " 100000").orElse("max")), builds.requireCgroupLimits())
                .withEgress(egressRules(builds));
        BuildRunner runner = switch (builds.runner()) {
            case "local" -> {
                Path cacheDir = builds.cacheDir().map(Path::of).orElse(store.root().resolve("build-cache"));
                try {
                    FsFiles.createDirectories(cacheDir); // base images pulled for private builds are private too
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot create the build cache " + cacheDir + ": " + e.getMessage(), e);
                }
                yield new ExecutorBuildRunner(new ExecutorBuildRunner.Settings(builds.ownMirror(),
                        builds.insecureRegistries().orElse(List.of()), cacheDir, builds.sandbox(),
                        builds.cacheRepo().orElse(null), builds.allowNetwork(), policy,
                        builds.layerStoreDir().map(Path::of).orElse(null), layerStoreMaxBytes(builds),
                        maxParallelStages(builds.maxParallelStages()).orElse(Runtime.getRuntime().availableProcessors())),
                        registry, mirror, upstreams, scope);
            }
            // the client is only made here: local mode and the command line never start it
            case "kubernetes" -> kubernetesRunner = kubernetesRunner(builds, tokens, kubernetes.get());
            default -> throw new IllegalArgumentException("kiln.builds.runner must be local or kubernetes, not " + builds.runner());
        };
        try {
            KilnConfig.BuildLimits limits = builds.limits();
            // on an object store the records and logs are copied to the bucket, where every replica reads them
            BuildFiles files = new BuildFiles(store.root(), store.builds().isGatewayDirectory() ? null : store.builds());
            return new BuildService(files, runner, builds.maxConcurrent(),
                    ByteSizes.parse(builds.maxContextBytes()), new BuildLimits(limits.timeout(),
                            ByteSizes.parse(limits.maxLogBytes()), limits.maxQueuedPerUser(),
                            ByteSizes.parse(limits.maxUnpackedBytes())), Clock.systemUTC(), LOG::warn);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the builds under " + store.root().resolve("builds") + ": " + e.getMessage(), e);
        }
    }

    private static EgressRules egressRules(KilnConfig.Builds builds) {
        List<String> allow = builds.egress().allow().orElse(List.of());
        try {
            return EgressRules.allowing(allow);
        } catch (IllegalArgumentException e) {
            throw new dev.kiln.app.config.ConfigurationProblem("kiln.builds.egress.allow=" + String.join(",", allow)
                    + ": " + e.getMessage(), e);
        }
    }

    private static long layerStoreMaxBytes(KilnConfig.Builds builds) {
        try {
            long bytes = ByteSizes.parse(builds.layerStoreMaxBytes());
            if (bytes < 0) {
                throw new IllegalArgumentException("must be 0 or more");
            }
            return bytes;
        } catch (IllegalArgumentException e) {
            throw new dev.kiln.app.config.ConfigurationProblem("kiln.builds.layer-store-max-bytes="
                    + builds.layerStoreMaxBytes() + ": " + e.getMessage(), e);
        }
    }

    /** {@code kiln.builds.max-parallel-stages}: empty when not set, so each runner applies its own default. */
    static Optional<Integer> maxParallelStages(Optional<String> setting) {
        return setting.map(value -> {
            try {
                int stages = Integer.parseInt(value.strip());
                if (stages >= 1) {
                    return stages;
                }
            } catch (NumberFormatException e) {
                // the same line as for zero
            }
            throw new dev.kiln.app.config.ConfigurationProblem("kiln.builds.max-parallel-stages=" + value
                    + ": must be a whole number, 1 or more (1 builds stages in file order)", null);
        });
    }

    private static KubernetesBuildRunner kubernetesRunner(KilnConfig.Builds builds, ContextTokens tokens, KubernetesClient client) {
        KilnConfig.Kubernetes k = builds.kubernetes();
        String namespace = k.namespace().orElse(client.getNamespace());
        if (namespace == null) {
            throw new IllegalArgumentException("kiln.builds.kubernetes.namespace is not set and the Kubernetes client has no namespace");
        }
        BuildJobSpec.Settings settings = new BuildJobSpec.Settings(namespace,
                k.image().orElseThrow(() -> new IllegalArgumentException(
                        "kiln.builds.runner=kubernetes needs the executor image: set kiln.builds.kubernetes.image")),
                k.command().orElse(List.of()), k.gateway(), k.gatewayTls(), builds.ownMirror(), k.cacheRepo(),
                k.dockerConfigSecret().orElse(null), k.serviceAccount().orElse(null), k.sandbox(),
                Map.of("cpu", k.cpuRequest(), "memory", k.memoryRequest()), Map.of("cpu", k.cpuLimit(), "memory", k.memoryLimit()),
                k.activeDeadline(), k.ttlAfterFinished(), k.instance(), builds.insecureRegistries().orElse(List.of()),
                builds.allowNetwork(), builds.egress().allow().orElse(List.of()),
                maxParallelStages(builds.maxParallelStages()).orElse(null));
        LOG.infof("builds run as Jobs in namespace %s with image %s; pods reach the gateway at %s", namespace, settings.image(),
                settings.gatewayUrl());
        return new KubernetesBuildRunner(client, settings, tokens, Duration.ofSeconds(60), LOG::warn);
    }

    void close(@Disposes BuildService builds) {
        builds.close();
        if (kubernetesRunner != null) {
            kubernetesRunner.close();
        }
    }
}
