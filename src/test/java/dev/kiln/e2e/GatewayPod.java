package dev.kiln.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import dev.kiln.testkit.KubeManifests;
import dev.kiln.testkit.Podman;
import dev.kiln.testkit.Ports;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

/**
 * The gateway Deployment of a rendered overlay, played by podman as a kubelet would run it (see
 * {@link KubeManifests#forPodman}), reachable on 127.0.0.1 at a port of its own. Start-up is
 * waited for through the Deployment's own readiness probe path, with a deadline scaled from the
 * first start measured on this machine.
 */
final class GatewayPod implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** The slowest start seen in this JVM: later deadlines are a multiple of it. */
    private static volatile Duration slowestStart = Duration.ofSeconds(20);

    private final Podman podman;
    private final List<HasMetadata> objects;
    private final Path work;
    private final String prefix;
    private final int port;
    private final Path yaml;
    private boolean claimMade;
    private final java.util.Map<String, java.util.Map<String, String>> secrets = new java.util.LinkedHashMap<>();
    private String authorization;
    private HttpClient http = HTTP;

    GatewayPod(Podman podman, List<HasMetadata> objects, Path work) {
        this.podman = podman;
        this.objects = objects;
        this.work = work;
        this.prefix = "kiln-e2e-" + UUID.randomUUID().toString().substring(0, 8) + "-";
        this.port = Ports.freePort();
        this.yaml = work.resolve(prefix + "play.yaml");
    }

    /** Adds lines to the rendered ConfigMap's {@code kiln.properties}, as an operator edits the overlay's. */
    void configure(String properties) {
        ConfigMap config = KubeManifests.one(objects, ConfigMap.class);
        config.getData().merge("kiln.properties", properties.endsWith("\n") ? properties : properties + "\n", String::concat);
    }

    /** Sets {@code key} in one of the ConfigMap's properties files (replacing its line), as an operator edits the overlay's. */
    void set(String file, String key, String value) {
        ConfigMap config = KubeManifests.one(objects, ConfigMap.class);
        StringBuilder out = new StringBuilder();
        boolean replaced = false;
        for (String line : config.getData().get(file).split("\n", -1)) {
            if (line.startsWith(key + "=")) {
                if (!replaced && value != null) {
                    out.append(key).append('=').append(value).append('\n');
                }
                replaced = true;
            } else if (!line.isEmpty()) {
                out.append(line).append('\n');
            }
        }
        if (!replaced && value != null) {
            out.append(key).append('=').append(value).append('\n');
        }
        config.getData().put(file, out.toString());
    }

    /**
     * Adds an environment variable, for what a kubelet gives a pod and podman does not: the API
     * server's address ({@code KUBERNETES_SERVICE_HOST} in a cluster).
     */
    void env(String name, String value) {
        container().getEnv().add(new io.fabric8.kubernetes.api.model.EnvVar(name, value, null));
    }

    Deployment deployment() {
        return KubeManifests.one(objects, Deployment.class);
    }

    Container container() {
        return deployment().getSpec().getTemplate().getSpec().getContainers().get(0);
    }

    /** A Secret the Deployment mounts, with its files, as {@code kubectl create secret generic} would make it. */
    void secret(String name, java.util.Map<String, String> files) {
        secrets.put(name, files);
    }

    /** Trusts the CA certificate (PEM) a TLS overlay's server certificate is signed with. */
    void trust(Path caPem) {
        try (var in = Files.newInputStream(caPem)) {
            var ca = java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in);
            var store = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
            store.load(null, null);
            store.setCertificateEntry("ca", ca);
            var trust = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            var tls = javax.net.ssl.SSLContext.getInstance("TLS");
            tls.init(null, trust.getTrustManagers(), null);
            http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).sslContext(tls).build();
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw new IllegalStateException("cannot trust " + caPem + ": " + e, e);
        }
    }

    /** The client that reaches this gateway: plain, or trusting its CA. */
    HttpClient http() {
        return http;
    }

    /** The {@code Authorization} header the tests send to this gateway's build API and registry, or null. */
    String authorization() {
        return authorization;
    }

    void basicAuth(String user, String password) {
        authorization = "Basic " + java.util.Base64.getEncoder().encodeToString((user + ":" + password).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Plays the Deployment (and, the first time, the claim: a PVC outlives its pods) and waits until it is ready. */
    void start() {
        expandArgs();
        try {
            Files.writeString(yaml, KubeManifests.forPodman(objects, prefix, port, !claimMade));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        claimMade = true;
        secrets.forEach((name, files) -> {
            if (deployment().getSpec().getTemplate().getSpec().getVolumes().stream()
                    .anyMatch(v -> v.getSecret() != null && v.getSecret().getSecretName().equals(name))) {
                podman.kubeSecret(prefix + name, files, work.resolve(prefix + "secrets"));
            } else {
                podman.envSecret(prefix + name, files, work.resolve(prefix + "secrets"));
            }
        });
        long t0 = System.nanoTime();
        podman.play(yaml);
        String ready = container().getReadinessProbe().getHttpGet().getPath();
        Duration deadline = slowestStart.multipliedBy(4);
        while (true) {
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url(ready))).timeout(Duration.ofSeconds(5)).build(),
                        HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    break;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted");
            }
            if (Duration.ofNanos(System.nanoTime() - t0).compareTo(deadline) > 0) {
                fail("the gateway pod did not answer its readiness probe " + ready + " within " + deadline.toSeconds() + " s; state "
                        + podman.state(containerName()) + "; its log:\n" + logTail());
            }
            sleep(250);
        }
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        if (took.compareTo(slowestStart) > 0) {
            slowestStart = took;
        }
        System.err.printf("GatewayPod: %s ready in %.1f s%n", containerName(), took.toMillis() / 1000.0);
    }

    /**
     * podman 4.3 passes {@code $(VAR)} in args on as written; the kubelet expands it from the
     * container's env, literal or from a Secret, before the container starts.
     */
    private void expandArgs() {
        Container c = container();
        if (c.getArgs() == null) {
            return;
        }
        java.util.Map<String, io.fabric8.kubernetes.api.model.EnvVar> env = new java.util.HashMap<>();
        c.getEnv().forEach(e -> env.put(e.getName(), e));
        c.setArgs(c.getArgs().stream().map(arg -> KubeManifests.expand(arg, name -> {
            var var = env.get(name);
            if (var == null) {
                return null;
            }
            if (var.getValueFrom() == null) {
                return var.getValue();
            }
            var ref = var.getValueFrom().getSecretKeyRef();
            return ref == null || !secrets.containsKey(ref.getName()) ? null : secrets.get(ref.getName()).get(ref.getKey());
        })).collect(java.util.stream.Collectors.toList()));
    }

    /** The pod's name, its hostname, as {@code podman kube play} names a Deployment's pod. */
    String podName() {
        return prefix + deployment().getMetadata().getName() + "-pod-0";
    }

    /** Stops the pod as a rollout would; the claim and what is on it stay. */
    void stop() {
        podman.down(yaml);
    }

    String url(String path) {
        String scheme = container().getReadinessProbe().getHttpGet().getScheme();
        return ("HTTPS".equals(scheme) ? "https" : "http") + "://127.0.0.1:" + port + path;
    }

    String hostPort() {
        return "127.0.0.1:" + port;
    }

    int port() {
        return port;
    }

    String containerName() {
        return podName() + "-" + container().getName();
    }

    String logTail() {
        String log = podman.logs(containerName(), false);
        return log.length() > 6000 ? "…" + log.substring(log.length() - 6000) : log;
    }

    @Override
    public void close() {
        podman.down(yaml);
        secrets.keySet().forEach(name -> podman.tryRun("secret", "rm", prefix + name));
        String volumes = podman.tryRun("volume", "ls", "-q", "--filter", "name=" + prefix).stdout();
        for (String volume : volumes.split("\\s+")) {
            if (!volume.isBlank()) {
                podman.removeVolume(volume);
            }
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted");
        }
    }
}
