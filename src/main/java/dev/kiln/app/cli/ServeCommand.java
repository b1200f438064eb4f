package dev.kiln.app.cli;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.QuarkusApplication;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true, versionProvider = KilnVersion.class,
        description = "Start the gateway: the OCI registry on /v2/, builds on /api/v1/builds, health on /q/health, metrics on /q/metrics.")
public class ServeCommand implements Callable<Integer> {
    @Option(names = "--port", description = "HTTP port (kiln.port, KILN_PORT; default 5000)")
    Integer port;

    @Option(names = "--store", description = "Store directory, or s3://BUCKET[/PREFIX] for an S3-compatible object store "
            + "(kiln.store, KILN_STORE; default ./cache-store)")
    String store;

    @Option(names = "--s3-endpoint", paramLabel = "URL",
            description = "S3-compatible server for an s3:// store, e.g. a MinIO; omit for AWS (kiln.store.s3.endpoint, KILN_STORE_S3_ENDPOINT)")
    String s3Endpoint;

    @Option(names = "--s3-region", paramLabel = "REGION", description = "Region of an s3:// store (kiln.store.s3.region; default us-east-1)")
    String s3Region;

    @Option(names = "--s3-path-style", arity = "0..1", paramLabel = "true|false",
            description = "Path-style bucket addressing, which most S3-compatible servers want (kiln.store.s3.path-style; default false)")
    Boolean s3PathStyle;

    @Option(names = "--s3-redirect", arity = "0..1", paramLabel = "true|false",
            description = "Answer blob downloads with a redirect to a presigned bucket URL (kiln.store.s3.redirect; default false)")
    Boolean s3Redirect;

    @Option(names = "--peer", paramLabel = "URL",
            description = "Another replica on the same store, repeatable (this one may be listed too): mirror misses go to the replica "
                    + "that owns the digest; needs kiln.cluster.peer-token (kiln.cluster.peers, KILN_CLUSTER_PEERS)")
    List<String> peers;

    @Option(names = "--local-namespace", paramLabel = "NS",
            description = "Local namespace, repeatable (kiln.local-namespace, KILN_LOCAL_NAMESPACE; default cache, builds, local)")
    List<String> localNamespaces;

    @Option(names = "--htpasswd", paramLabel = "FILE",
            description = "bcrypt htpasswd file; when set, pushes and deletes need Basic auth (kiln.htpasswd, KILN_HTPASSWD)")
    String htpasswd;

    @Option(names = "--anonymous-pull", arity = "1", paramLabel = "true|false",
            description = "Allow pulls without credentials when --htpasswd is set (kiln.anonymous-pull, KILN_ANONYMOUS_PULL; default true)")
    Boolean anonymousPull;

    @Option(names = "--upstream", paramLabel = "NAME=URL",
            description = "Mirror an upstream registry, repeatable, e.g. quay.io=https://quay.io (kiln.mirror.upstreams.\"NAME\".url); "
                    + "docker.io=https://registry-1.docker.io is built in and may be pointed elsewhere")
    List<String> upstreams;

    @Option(names = "--default-upstream", paramLabel = "NAME",
            description = "Upstream for names without a known prefix (kiln.mirror.default-upstream; default docker.io)")
    String defaultUpstream;

    @Option(names = "--cache-max-bytes", paramLabel = "SIZE",
            description = "Store budget, e.g. 50G; least recently pulled mirrored content is evicted beyond it (kiln.mirror.cache-max-bytes)")
    String cacheMaxBytes;

    @Option(names = "--tag-ttl", paramLabel = "DURATION",
            description = "How long a mirrored tag is served before it is revalidated upstream (kiln.mirror.tag-ttl; default 5m)")
    String tagTtl;

    @Option(names = "--max-concurrent-builds", paramLabel = "N",
            description = "Builds submitted to /api/v1/builds that run at once; the rest wait (kiln.builds.max-concurrent; default 1)")
    Integer maxConcurrentBuilds;

    @Option(names = "--max-build-context", paramLabel = "SIZE",
            description = "Largest build context a client may upload, e.g. 500M (kiln.builds.max-context-bytes; default 2G)")
    String maxBuildContext;

    @Option(names = "--build-runner", paramLabel = "local|kubernetes",
            description = "Where builds run: in this process, or as one Kubernetes Job each (kiln.builds.runner; default local; "
                    + "the Job settings are kiln.builds.kubernetes.*, see docs/kubernetes.md)")
    String buildRunner;

    @Option(names = "--log-format", paramLabel = "text|json",
            description = "The server's log: text, or json (one JSON object per line) (kiln.log-format, KILN_LOG_FORMAT; default text)")
    String logFormat;

    @Option(names = "--access-log", arity = "0..1", fallbackValue = "true", paramLabel = "true|false",
            description = "Log one line per HTTP request (kiln.access-log, KILN_ACCESS_LOG; default false)")
    Boolean accessLog;

    @Override
    public Integer call() {
        String format = logFormat != null ? logFormat
                : System.getProperty("kiln.log-format", System.getenv().getOrDefault("KILN_LOG_FORMAT", "text"));
        if (!format.equals("text") && !format.equals("json")) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "--log-format is text or json, not " + format);
        }
        // quarkus-logging-json reads this at start-up, not at build time: one jar serves both formats
        System.setProperty("quarkus.log.console.json.enabled", Boolean.toString(format.equals("json")));
        if (accessLog != null) {
            System.setProperty("kiln.access-log", accessLog.toString());
        }
        if (buildRunner != null) {
            if (!buildRunner.equals("local") && !buildRunner.equals("kubernetes")) {
                throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                        "--build-runner is local or kubernetes, not " + buildRunner);
            }
            System.setProperty("kiln.builds.runner", buildRunner);
        }
        if (maxConcurrentBuilds != null) {
            System.setProperty("kiln.builds.max-concurrent", maxConcurrentBuilds.toString());
        }
        if (maxBuildContext != null) {
            System.setProperty("kiln.builds.max-context-bytes", maxBuildContext);
        }
        if (upstreams != null) {
            for (String upstream : upstreams) {
                int eq = upstream.indexOf('=');
                if (eq <= 0 || eq == upstream.length() - 1) {
                    throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                            "--upstream wants NAME=URL, e.g. quay.io=https://quay.io; got " + upstream);
                }
                System.setProperty("kiln.mirror.upstreams.\"" + upstream.substring(0, eq) + "\".url", upstream.substring(eq + 1));
            }
        }
        if (defaultUpstream != null) {
            System.setProperty("kiln.mirror.default-upstream", defaultUpstream);
        }
        if (cacheMaxBytes != null) {
            System.setProperty("kiln.mirror.cache-max-bytes", cacheMaxBytes);
        }
        if (tagTtl != null) {
            System.setProperty("kiln.mirror.tag-ttl", tagTtl);
        }
        // Options given on the command line win over configuration and environment, as system properties do.
        if (port != null) {
            System.setProperty("kiln.port", port.toString());
        }
        if (store != null) {
            System.setProperty("kiln.store", store);
        }
        if (s3Endpoint != null) {
            System.setProperty("kiln.store.s3.endpoint", s3Endpoint);
        }
        if (s3Region != null) {
            System.setProperty("kiln.store.s3.region", s3Region);
        }
        if (s3PathStyle != null) {
            System.setProperty("kiln.store.s3.path-style", s3PathStyle.toString());
        }
        if (s3Redirect != null) {
            System.setProperty("kiln.store.s3.redirect", s3Redirect.toString());
        }
        if (peers != null && !peers.isEmpty()) {
            System.setProperty("kiln.cluster.peers", String.join(",", peers));
        }
        if (localNamespaces != null && !localNamespaces.isEmpty()) {
            System.setProperty("kiln.local-namespace", String.join(",", localNamespaces));
        }
        if (htpasswd != null) {
            System.setProperty("kiln.htpasswd", htpasswd);
        }
        if (anonymousPull != null) {
            System.setProperty("kiln.anonymous-pull", anonymousPull.toString());
        }
        Quarkus.run(Server.class, (code, failure) -> {
            if (failure != null) {
                System.err.println(startFailure(failure));
            }
            System.exit(code);
        });
        return 0;
    }

    /** One line for the failures a person can fix (a busy port, a store that cannot be written), the cause chain otherwise. */
    static String startFailure(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof java.net.BindException
                    || cause.getMessage() != null && cause.getMessage().contains("Address already in use")) {
                String port = org.eclipse.microprofile.config.ConfigProvider.getConfig()
                        .getOptionalValue("quarkus.http.port", String.class).orElse("5000");
                return "kiln: port " + port + " is already in use (another `kiln serve`?): stop that server,"
                        + " or choose another port with --port N or KILN_PORT";
            }
            if (cause instanceof dev.kiln.store.StoreNotUsableException || cause instanceof dev.kiln.app.config.ConfigurationProblem) {
                return "kiln: " + cause.getMessage();
            }
        }
        StringBuilder reason = new StringBuilder("kiln: ").append(failure.getMessage());
        for (Throwable cause = failure.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
            reason.append("\n  caused by: ").append(cause);
        }
        return reason.toString();
    }

    public static class Server implements QuarkusApplication {
        @Override
        public int run(String... args) {
            Quarkus.waitForExit();
            return 0;
        }
    }
}
