package dev.kiln.e2e;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Podman;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A one-node cluster for the gateway's Kubernetes runner: fabric8's mock API server (CRUD) stands in
 * for the API server, and this class for the Job controller and the kubelet. For every Job the
 * runner creates it makes the Job's pod from the exact pod template and runs it with {@code podman
 * kube play}; then it reports what podman sees as a kubelet would — pod phase, the container's
 * running and terminated states with exit code and termination message ({@code
 * terminationMessagePath}, falling back to the log's tail), the Job's conditions — and serves the
 * container's real log at the pod log endpoint. A deleted Job takes its pod with it. What it adds
 * to the template is what a kubelet adds: the termination-message file, and Secret volumes in the
 * form podman 4.3 reads them (../shared/podman-notes.md).
 */
final class Kubelet implements AutoCloseable {
    private static final Pattern LOG_PATH = Pattern.compile("/api/v1/namespaces/([^/]+)/pods/([^/?]+)/log(?:\\?(.*))?");

    private final Podman podman;
    private final Path work;
    private final String namespace;
    private final String prefix;
    private final KubernetesMockServer server;
    private final KubernetesClient client;
    private final Map<String, Played> played = new ConcurrentHashMap<>();
    private final Set<String> jobsSeen = ConcurrentHashMap.newKeySet();
    private final Map<String, String> podmanSecrets = new ConcurrentHashMap<>();
    private final ScheduledExecutorService loop = Executors.newSingleThreadScheduledExecutor();
    private final ExecutorService starter = Executors.newCachedThreadPool();
    private final List<String> problems = Collections.synchronizedList(new ArrayList<>());

    /** A pod this kubelet runs: its name in the API and podman's names for it. */
    private record Played(String pod, String job, String podmanPod, String container, Path yaml, Path terminationLog,
                          Map<String, String> reported) {
    }

    Kubelet(Podman podman, Path work, String namespace, String prefix) {
        this.podman = podman;
        this.work = work;
        this.namespace = namespace;
        this.prefix = prefix;
        LogDispatcher dispatcher = new LogDispatcher();
        this.server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), dispatcher, false);
        try {
            server.init(InetAddress.getByName("127.0.0.1"), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.client = server.createClient();
        loop.scheduleWithFixedDelay(this::tick, 200, 300, TimeUnit.MILLISECONDS);
    }

    String apiServerUrl() {
        return "http://127.0.0.1:" + server.getPort();
    }

    KubernetesClient client() {
        return client;
    }

    /** What went wrong in the stand-in itself (not in the pods it runs), for failure messages. */
    List<String> problems() {
        return List.copyOf(problems);
    }

    /** Containers of this kubelet that podman still runs. */
    List<String> runningContainers() {
        String names = podman.tryRun("ps", "--format", "{{.Names}}", "--filter", "name=" + prefix).stdout();
        return names.lines().filter(n -> !n.isBlank() && !n.endsWith("-infra")).toList();
    }

    /** The podman container of the build pod of {@code jobName}, once it was played. */
    String containerOf(String jobName) {
        return played.values().stream().filter(p -> p.job.equals(jobName)).map(Played::container).findFirst().orElse(null);
    }

    private void tick() {
        try {
            for (Job job : client.batch().v1().jobs().inNamespace(namespace).list().getItems()) {
                String name = job.getMetadata().getName();
                if (jobsSeen.add(name)) {
                    starter.submit(() -> start(job));
                }
            }
            for (Played p : played.values()) {
                if (client.batch().v1().jobs().inNamespace(namespace).withName(p.job).get() == null) {
                    // the garbage collector deletes a deleted Job's pod, and the kubelet stops its containers
                    podman.down(p.yaml);
                    client.pods().inNamespace(namespace).withName(p.pod).delete();
                    played.remove(p.pod);
                    continue;
                }
                report(p);
            }
        } catch (RuntimeException e) {
            problems.add("kubelet tick: " + e);
        }
    }

    private void start(Job job) {
        String jobName = job.getMetadata().getName();
        String podName = jobName + "-" + Long.toString(System.nanoTime() % 60466176L, 36);
        Map<String, String> labels = new LinkedHashMap<>(job.getSpec().getTemplate().getMetadata().getLabels());
        labels.put("job-name", jobName);
        labels.put("batch.kubernetes.io/job-name", jobName);
        Pod pod = new PodBuilder().withNewMetadata().withName(podName).withNamespace(namespace).withLabels(labels)
                .withAnnotations(job.getSpec().getTemplate().getMetadata().getAnnotations()).endMetadata()
                .withSpec(Serialization.clone(job.getSpec().getTemplate().getSpec()))
                .withStatus(new PodStatusBuilder().withPhase("Pending").build())
                .build();
        client.pods().inNamespace(namespace).resource(pod).create();
        try {
            Path dir = Files.createDirectories(work.resolve("kubelet").resolve(podName));
            Pod local = Serialization.clone(pod);
            local.getMetadata().setName(prefix + podName);
            local.getMetadata().setNamespace(null);
            local.setStatus(null);
            dev.kiln.testkit.KubeManifests.uniqueEmptyDirs(local.getSpec(), prefix + podName + "-");
            Container c = local.getSpec().getContainers().get(0);
            Path termination = dir.resolve("termination-log");
            Files.createFile(termination, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-rw-rw-")));
            if (c.getTerminationMessagePath() != null) {
                local.getSpec().getVolumes().add(new VolumeBuilder().withName("kubelet-termination-log")
                        .withNewHostPath().withPath(termination.toString()).withType("File").endHostPath().build());
                c.getVolumeMounts().add(new VolumeMountBuilder().withName("kubelet-termination-log")
                        .withMountPath(c.getTerminationMessagePath()).build());
            }
            local.getSpec().getVolumes().stream().filter(v -> v.getSecret() != null).forEach(v -> {
                v.getSecret().setSecretName(podmanSecret(v.getSecret().getSecretName(), v.getSecret().getItems(), dir));
                v.getSecret().setItems(null);
                v.getSecret().setOptional(false);
            });
            Path yaml = dir.resolve("pod.yaml");
            Files.writeString(yaml, Serialization.asYaml(local));
            Played p = new Played(podName, jobName, prefix + podName, prefix + podName + "-" + c.getName(), yaml, termination,
                    new ConcurrentHashMap<>());
            ExecResult result = podman.tryRun("kube", "play", "--network", "host", "--tls-verify=false", yaml.toString());
            if (!result.ok()) {
                String output = result.output();
                podman.down(yaml); // podman made the pod before the pull failed
                boolean pull = output.contains("pull") || output.contains("manifest unknown") || output.contains("initializing source");
                setPodStatus(podName, waiting(pull ? "ErrImagePull" : "CreateContainerError", lastLine(output)));
                if (pull) {
                    Thread.sleep(1000); // the kubelet's first back-off
                    setPodStatus(podName, waiting("ImagePullBackOff", "Back-off pulling image \"" + c.getImage() + "\""));
                }
                return;
            }
            played.put(podName, p);
        } catch (IOException e) {
            problems.add("playing the pod of " + jobName + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * podman 4.3 reads a secret volume from a podman secret holding a Secret object whose data it
     * writes out without decoding; the key becomes the file name, as the Job's item asks.
     */
    private String podmanSecret(String name, List<io.fabric8.kubernetes.api.model.KeyToPath> items, Path dir) {
        return podmanSecrets.computeIfAbsent(name, n -> {
            Secret secret = client.secrets().inNamespace(namespace).withName(n).get();
            if (secret == null) {
                problems.add("the pod mounts Secret " + n + ", which does not exist");
                return prefix + n;
            }
            Map<String, String> files = new LinkedHashMap<>();
            secret.getData().forEach((key, value) -> {
                String file = key;
                if (items != null) {
                    file = items.stream().filter(i -> i.getKey().equals(key)).map(i -> i.getPath()).findFirst().orElse(null);
                }
                if (file != null) {
                    files.put(file, new String(Base64.getDecoder().decode(value), StandardCharsets.UTF_8));
                }
            });
            String podmanName = prefix + n;
            podman.kubeSecret(podmanName, files, dir);
            return podmanName;
        });
    }

    private void report(Played p) {
        Podman.State state = podman.state(p.container);
        if (state.running() && p.reported.putIfAbsent("running", "yes") == null) {
            setPodStatus(p.pod, new PodStatusBuilder().withPhase("Running").withContainerStatuses(new ContainerStatusBuilder()
                    .withName(container(p)).withNewState().withNewRunning().withStartedAt(Instant.now().toString()).endRunning()
                    .endState().build()).build());
        } else if (state.ended() && p.reported.putIfAbsent("ended", "yes") == null) {
            String message = read(p.terminationLog).trim();
            Pod pod = client.pods().inNamespace(namespace).withName(p.pod).get();
            Container c = pod.getSpec().getContainers().get(0);
            if (message.isEmpty() && state.exitCode() != 0 && "FallbackToLogsOnError".equals(c.getTerminationMessagePolicy())) {
                List<String> lines = podman.logs(p.container, false).lines().toList();
                message = String.join("\n", lines.subList(Math.max(0, lines.size() - 80), lines.size()));
                if (message.length() > 2048) {
                    message = message.substring(message.length() - 2048);
                }
            }
            boolean ok = state.exitCode() == 0;
            ContainerStatus status = new ContainerStatusBuilder().withName(c.getName()).withNewState().withNewTerminated()
                    .withExitCode(state.exitCode()).withReason(ok ? "Completed" : state.oomKilled() ? "OOMKilled" : "Error")
                    .withMessage(message).withFinishedAt(Instant.now().toString()).endTerminated().endState().build();
            setPodStatus(p.pod, new PodStatusBuilder().withPhase(ok ? "Succeeded" : "Failed").withContainerStatuses(status).build());
            Job job = client.batch().v1().jobs().inNamespace(namespace).withName(p.job).get();
            if (job != null) {
                job.setStatus(new JobStatusBuilder().withSucceeded(ok ? 1 : 0).withFailed(ok ? 0 : 1)
                        .withConditions(new JobConditionBuilder().withType(ok ? "Complete" : "Failed").withStatus("True")
                                .withReason(ok ? null : "BackoffLimitExceeded").build()).build());
                client.batch().v1().jobs().inNamespace(namespace).resource(job).updateStatus();
            }
        }
    }

    private String container(Played p) {
        return p.container.substring(p.podmanPod.length() + 1);
    }

    private static PodStatus waiting(String reason, String message) {
        return new PodStatusBuilder().withPhase("Pending").withContainerStatuses(new ContainerStatusBuilder().withName("executor")
                .withNewState().withNewWaiting().withReason(reason).withMessage(message).endWaiting().endState().build()).build();
    }

    private void setPodStatus(String podName, PodStatus status) {
        Pod current = client.pods().inNamespace(namespace).withName(podName).get();
        if (current != null) {
            current.setStatus(status);
            client.pods().inNamespace(namespace).resource(current).updateStatus();
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "";
        }
    }

    private static String lastLine(String text) {
        List<String> lines = text.strip().lines().toList();
        return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
    }

    /** The log of a played pod, with the API server's timestamps, from {@code sinceTime} on. */
    private String podLog(String podName, Instant since) {
        Played p = played.get(podName);
        if (p == null) {
            return null;
        }
        StringBuilder out = new StringBuilder();
        for (String line : podman.logs(p.container, true).lines().toList()) {
            int space = line.indexOf(' ');
            if (space < 0) {
                continue;
            }
            Instant time;
            try {
                time = OffsetDateTime.parse(line.substring(0, space)).toInstant();
            } catch (DateTimeParseException e) {
                continue;
            }
            if (since == null || !time.isBefore(since)) {
                out.append(time).append(line.substring(space)).append('\n');
            }
        }
        return out.toString();
    }

    /** The CRUD API server, plus the pod log endpoint, which CRUD mode does not have. */
    private final class LogDispatcher extends KubernetesCrudDispatcher {
        @Override
        public MockResponse dispatch(RecordedRequest request) {
            Matcher m = LOG_PATH.matcher(request.getPath());
            if (!"GET".equals(request.getMethod()) || !m.matches()) {
                return super.dispatch(request);
            }
            Instant since = null;
            if (m.group(3) != null) {
                for (String param : m.group(3).split("&")) {
                    if (param.startsWith("sinceTime=")) {
                        since = Instant.parse(URLDecoder.decode(param.substring(10), StandardCharsets.UTF_8));
                    }
                }
            }
            String log = podLog(m.group(2), since);
            if (log == null) {
                return new MockResponse().setResponseCode(400).setBody("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                        + "\"message\":\"container \\\"executor\\\" in pod \\\"" + m.group(2) + "\\\" is waiting to start\",\"code\":400}");
            }
            return new MockResponse().setResponseCode(200).setBody(log);
        }
    }

    @Override
    public void close() {
        loop.shutdownNow();
        starter.shutdownNow();
        for (Played p : played.values()) {
            podman.down(p.yaml);
        }
        for (String secret : podmanSecrets.values()) {
            podman.tryRun("secret", "rm", secret);
        }
        String volumes = podman.tryRun("volume", "ls", "-q", "--filter", "name=" + prefix).stdout();
        for (String volume : volumes.split("\\s+")) {
            if (!volume.isBlank()) {
                podman.removeVolume(volume);
            }
        }
        client.close();
        server.destroy();
    }
}
