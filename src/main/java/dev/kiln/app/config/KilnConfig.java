package dev.kiln.app.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Kiln's settings: each is a {@code kiln.*} key, a {@code KILN_*} variable and a {@code serve} option. */
@ConfigMapping(prefix = "kiln")
public interface KilnConfig {
    @WithDefault("5000")
    int port();

    @WithDefault("./cache-store")
    String store();

    @WithName("local-namespace")
    @WithDefault("cache,builds,local")
    List<String> localNamespaces();

    Optional<String> htpasswd();

    @WithDefault("true")
    boolean anonymousPull();

    /** {@code text} or {@code json}; {@code kiln serve} turns it into quarkus.log.console.json.enabled before start-up. */
    @WithDefault("text")
    String logFormat();

    /** One log line per HTTP request; read through {@code quarkus.http.access-log.enabled}. */
    @WithDefault("false")
    boolean accessLog();

    Uploads uploads();

    Auth auth();

    Limits limits();

    Mirror mirror();

    Gc gc();

    Bench bench();

    Builds builds();

    interface Builds {
        /** Builds that run at once; the others wait in a queue. */
        @WithDefault("1")
        int maxConcurrent();

        /** The largest uploaded build context (suffixes K, M, G, T). */
        @WithDefault("2G")
        String maxContextBytes();

        /** Pull Docker Hub base images through this gateway's own mirror (so they land in its store). */
        @WithDefault("true")
        boolean ownMirror();

        /** Further registries builds reach over plain HTTP; the gateway itself always is. */
        Optional<List<String>> insecureRegistries();

        /** Where builds keep pulled base image blobs; default {@code <store>/build-cache}. */
        Optional<String> cacheDir();

        /** Where builds keep base image layers unpacked between builds; default {@code layers/} in the cache dir. */
        Optional<String> layerStoreDir();

        /** The most the kept unpacked layers may take (suffixes K, M, G, T); 0 keeps none. */
        @WithDefault("10G")
        String layerStoreMaxBytes();

        /**
         * Stages of one build that need nothing from each other and run at once, at most (the
         * executor's {@code --max-parallel-stages}); 1 builds them in file order. Default: the
         * processors of the gateway, or of the build Job's pod.
         */
        Optional<String> maxParallelStages();

        /** How RUN is isolated: auto, namespaces, proot, in-place. */
        @WithDefault("auto")
        String sandbox();

        /**
         * Whether RUN may use the network ({@code RUN --network=default|host}), through the egress
         * proxy that refuses loopback and private addresses; otherwise every RUN gets a network
         * namespace with loopback only. See docs/security.md.
         */
        @WithDefault("false")
        boolean allowNetwork();

        /** Where the egress proxy lets a RUN that may use the network connect. */
        Egress egress();

        /** What one build may take. */
        BuildLimits limits();

        /** How long finished builds are kept. */
        Retention retention();

        /** The layer cache's repository in the store for builds with {@code cache}; default {@code cache/<first destination's path>}. */
        Optional<String> cacheRepo();

        /** Where builds run: {@code local} (in this process) or {@code kubernetes} (one Job per build). */
        @WithDefault("local")
        String runner();

        Kubernetes kubernetes();

        /**
         * Per user, the repositories outside this gateway its builds may push to with the gateway's
         * registry credentials: {@code kiln.builds.push-allow."alice"=registry.example/team/**}; the
         * user {@code *} means everyone. None by default: builds push into the gateway only.
         */
        Map<String, List<String>> pushAllow();

        /** The same for pulls of base images with the gateway's credentials; other images are pulled anonymously. */
        Map<String, List<String>> pullAllow();

        /**
         * Per user, the S3 buckets (or {@code bucket/key} globs) its builds may take an {@code s3://}
         * context from, fetched with the gateway's AWS credentials. None by default: such a context is
         * refused with 403 and the user uploads the context instead.
         */
        Map<String, List<String>> s3Allow();

        /**
         * Whether the namespace sandbox loads its seccomp filter (bubblewrap) on every RUN; without
         * bwrap a RUN is refused. Turn off only where the host's kernel is not worth protecting.
         */
        @WithDefault("true")
        boolean seccomp();

        /**
         * Refuse RUNs where the {@code kiln.builds.limits.run-*} cgroup v2 limits cannot be applied
         * (no delegated cgroup v2 subtree with memory, pids and cpu); otherwise one warning.
         */
        @WithDefault("false")
        boolean requireCgroupLimits();
    }

    /** {@code kiln.builds.egress.*}: the egress proxy of RUNs allowed the network. */
    interface Egress {
        /**
         * Addresses, CIDRs or host names the proxy lets a RUN reach although they are loopback,
         * private or link-local (an internal package mirror): {@code kiln.builds.egress.allow=10.1.2.0/24,mirror.internal}.
         */
        Optional<List<String>> allow();
    }

    /**
     * {@code kiln.builds.retention.*}: finished builds (record, log, steps) this replica lets go, oldest
     * first; {@code 0} or {@code none} turns a bound off. See docs/operations.md.
     */
    interface Retention {
        /** A build that finished longer ago goes ({@code 7d}, {@code 12h}, ISO-8601). */
        @WithDefault("7d")
        String maxAge();

        /** Only the newest this many finished builds stay. */
        @WithDefault("1000")
        String maxFinished();
    }

    /** {@code kiln.builds.limits.*}: what one gateway build may take; see docs/security.md. */
    interface BuildLimits {
        /** Wall-clock time from start to end; the build fails after it. */
        @WithDefault("1h")
        Duration timeout();

        /** The build log's size; the rest is dropped after one marker line (suffixes K, M, G). */
        @WithDefault("16M")
        String maxLogBytes();

        /** Bytes an uploaded context may unpack to (decompression bombs are refused early; suffixes K, M, G, T). */
        @WithDefault("8G")
        String maxUnpackedBytes();

        /** Builds one submitter may have queued or running at once (anonymous submitters share one count). */
        @WithDefault("8")
        int maxQueuedPerUser();

        /** Memory of one RUN (cgroup v2 {@code memory.max}; suffixes K, M, G); none by default. */
        Optional<String> runMemory();

        /** Processes of one RUN (cgroup v2 {@code pids.max}); none by default. */
        Optional<Integer> runPids();

        /** CPUs of one RUN, such as {@code 1.5} (cgroup v2 {@code cpu.max}); none by default. */
        Optional<Double> runCpus();
    }

    /** Builds as Kubernetes Jobs ({@code kiln.builds.runner=kubernetes}); see docs/kubernetes.md. */
    interface Kubernetes {
        /** Namespace of the build Jobs; default the one the gateway runs in. */
        Optional<String> namespace();

        /** The executor image (its entrypoint is {@code kiln}); required in kubernetes mode. */
        Optional<String> image();

        /** Replaces the image's entrypoint, e.g. {@code /kiln/bin/kiln}. */
        Optional<List<String>> command();

        /** {@code host:port} at which build pods reach this gateway: its Service. */
        @WithDefault("kiln:5000")
        String gateway();

        /** Whether that address speaks TLS; plain HTTP inside the cluster otherwise. */
        @WithDefault("false")
        boolean gatewayTls();

        /** Repository of the layer cache inside the gateway ({@code --cache-repo <gateway>/<this>}). */
        @WithDefault("cache/layers")
        String cacheRepo();

        /** A {@code kubernetes.io/dockerconfigjson} Secret mounted into build pods as {@code DOCKER_CONFIG}. */
        Optional<String> dockerConfigSecret();

        /** The build pods' service account; default the namespace's. */
        Optional<String> serviceAccount();

        /** The executor's RUN sandbox in the pod; it decides the pod's securityContext. */
        @WithDefault("in-place")
        String sandbox();

        @WithDefault("500m")
        String cpuRequest();

        @WithDefault("1Gi")
        String memoryRequest();

        @WithDefault("2")
        String cpuLimit();

        @WithDefault("4Gi")
        String memoryLimit();

        /** A build running longer is killed ({@code activeDeadlineSeconds}). */
        @WithDefault("1h")
        Duration activeDeadline();

        /** Finished Jobs are removed by Kubernetes after this ({@code ttlSecondsAfterFinished}). */
        @WithDefault("1h")
        Duration ttlAfterFinished();

        /** Tells this gateway's Jobs from another's in the same namespace ({@code app.kubernetes.io/instance}). */
        @WithDefault("kiln")
        String instance();
    }

    /** Logins against the htpasswd file. */
    interface Auth {
        /** Users who see and cancel every user's builds. */
        Optional<List<String>> admins();

        /** How long a verified user and password are remembered, so bcrypt runs once per client session. */
        @WithDefault("1m")
        Duration cacheTtl();

        /** Failed logins per client address, and per user, before further attempts answer 429 for the rest of the window. */
        @WithDefault("10")
        int maxFailures();

        @WithDefault("1m")
        Duration failureWindow();

        /** Threads that run bcrypt; the event loops and the store's workers never do. */
        @WithDefault("2")
        int bcryptThreads();
    }

    /** Limits that keep slow or many clients from starving the others. */
    interface Limits {
        /**
         * A connection with no traffic in either direction for this long is closed; this also bounds how
         * long a client may take between two bytes of its headers. Read through {@code quarkus.http.idle-timeout}.
         */
        @WithDefault("2m")
        Duration idleTimeout();

        /** Request bodies (blob chunks, manifests, build contexts) being received at once, over all clients. */
        @WithDefault("4096")
        int maxOpenUploads();

        /** The same per client address. */
        @WithDefault("64")
        int maxOpenUploadsPerClient();
    }

    interface Bench {
        /** Serves /bench/rest-blobs/ so the download benchmark can compare quarkus-rest with Vert.x routes. */
        @WithDefault("false")
        boolean restEndpoint();
    }

    interface Uploads {
        /** Resumable sessions idle for longer than this are removed. */
        @WithDefault("24h")
        Duration ttl();
    }

    interface Mirror {
        /** The upstream for names that match no prefix: Docker Hub unless pointed elsewhere. */
        @WithDefault("docker.io")
        String defaultUpstream();

        /** Upstreams by name, e.g. {@code kiln.mirror.upstreams."quay.io".url=https://quay.io}. */
        Map<String, Upstream> upstreams();

        /** How long a tag's digest is trusted before it is revalidated upstream with HEAD. */
        @WithDefault("5m")
        Duration tagTtl();

        /** Store budget in bytes (suffixes K, M, G, T); 0 means unlimited. */
        @WithDefault("0")
        String cacheMaxBytes();

        /** Hot metadata (tag checks, manifests, blob sizes) kept in memory, in entries of about 200 bytes. */
        @WithDefault("100000")
        long metadataCacheEntries();
    }

    interface Upstream {
        String url();

        Optional<String> username();

        Optional<String> password();

        /** A docker config.json whose {@code auths} entry for this upstream's host supplies credentials. */
        Optional<String> dockerConfig();

        Optional<String> caFile();

        @WithDefault("false")
        boolean skipTlsVerify();

        @WithDefault("10s")
        Duration connectTimeout();

        @WithDefault("60s")
        Duration readTimeout();
    }

    interface Gc {
        /** How often online garbage collection runs; {@code off} disables it. */
        @WithDefault("24h")
        String interval();

        /** Unreferenced blobs younger than this survive: their manifest may still be on its way. */
        @WithDefault("1h")
        Duration grace();

        /**
         * What keeps collections of several replicas apart: {@code lease} (a coordination.k8s.io Lease,
         * and the store's lock), {@code store} (a lock object in the store), or {@code auto}: lease inside
         * a Kubernetes pod, store elsewhere.
         */
        @WithDefault("auto")
        String lock();

        /** The Lease's name, in the gateway's namespace. */
        @WithDefault("kiln-gc")
        String leaseName();

        /** A holder that stops renewing loses the lock after this long. */
        @WithDefault("60s")
        Duration lockTtl();
    }
}
