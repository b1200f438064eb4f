package dev.kiln.app.kubernetes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.gateway.BuildFiles;
import dev.kiln.builder.gateway.BuildRecord;
import dev.kiln.builder.gateway.BuildService;
import dev.kiln.builder.gateway.BuildSpec;
import dev.kiln.builder.gateway.BuildState;
import dev.kiln.builder.gateway.ContextArchive;
import dev.kiln.builder.gateway.ContextTokens;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Kubernetes build runner against fabric8's mock API server in CRUD mode: the test plays the
 * Job controller and the kubelet, creating the build's pod and moving it through its phases. The
 * pod log endpoint is not part of CRUD mode, so the log is served by an expectation (the mock
 * server's mixed mode answers expectations first and CRUD for the rest).
 */
@EnableKubernetesMockClient(crud = true, https = false)
class KubernetesBuildRunnerTest {
    private static final String NS = "kiln-builds";
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String DIGEST = "sha256:" + "c".repeat(64);
    private static final Pattern ARGS_CONTEXT = Pattern.compile("http://kiln\\.kiln\\.svc:5000/api/v1/builds/([0-9a-f]{20})/context\\?token=(\\S+)");

    private static final String RUNNER_AGENT = "kiln-runner-under-test";

    static KubernetesMockServer server;
    /** The test's own client, playing the cluster; the runner has one of its own so that its requests can be told apart. */
    static KubernetesClient client;
    private KubernetesClient runnerClient;

    @TempDir
    Path store;

    private final List<String> problems = new ArrayList<>();
    private final List<BuildService> services = new ArrayList<>();
    private final List<KubernetesBuildRunner> runners = new ArrayList<>();
    private ContextTokens tokens;

    @BeforeEach
    void setUp() throws Exception {
        runnerClient = new io.fabric8.kubernetes.client.KubernetesClientBuilder().withConfig(
                new io.fabric8.kubernetes.client.ConfigBuilder(client.getConfiguration()).withUserAgent(RUNNER_AGENT).build()).build();
        tokens = new ContextTokens(new BuildFiles(store));
        client.secrets().inNamespace(NS).resource(new SecretBuilder().withNewMetadata().withName("regcred").endMetadata()
                .withType("kubernetes.io/dockerconfigjson").addToStringData(".dockerconfigjson", "{\"auths\":{}}").build()).createOr(r -> r.update());
        drainRequests();
    }

    @AfterEach
    void closeAndCheckPermissions() throws Exception {
        services.forEach(s -> s.close(5));
        runners.forEach(KubernetesBuildRunner::close);
        runnerClient.close();
        Set<RunnerPermissions.Permission> asked = drainRequests();
        assertTrue(RunnerPermissions.USED.containsAll(asked), "asked for more than the Role grants: " + asked);
        client.batch().v1().jobs().inNamespace(NS).delete();
        client.pods().inNamespace(NS).delete();
    }

    static BuildJobSpec.Settings settings(String secret) {
        return new BuildJobSpec.Settings(NS, "registry.example/kiln-executor:1", List.of(), "kiln.kiln.svc:5000", false, true,
                "cache/layers", secret, "kiln-builder", "in-place", Map.of("cpu", "250m", "memory", "512Mi"),
                Map.of("cpu", "1", "memory", "2Gi"), Duration.ofMinutes(30), Duration.ofMinutes(10), "kiln", List.of(), false);
    }

    private BuildService open() throws IOException {
        KubernetesBuildRunner runner = new KubernetesBuildRunner(runnerClient, settings("regcred"), tokens, WAIT, problems::add);
        runners.add(runner);
        BuildService service = new BuildService(new BuildFiles(store), runner, 4, 1 << 20, Clock.systemUTC(), problems::add);
        services.add(service);
        return service;
    }

    @Test
    void theJobRunsTheExecutorWithKanikoFlagsPointedAtTheGateway() throws Exception {
        BuildService service = open();
        BuildSpec spec = new BuildSpec(null, "docker/Dockerfile", Map.of("VERSION", "1.2", "A", "b c"), "runtime",
                Map.of("team", "web"), List.of("kiln.kiln.svc:5000/builds/app:1", "ghcr.io/acme/app:1"), true, "linux/arm64");
        BuildRecord record = service.submit(spec, archive(Map.of("docker/Dockerfile", "FROM scratch\n")), null);
        Job job = awaitJob(record.id());

        assertEquals("kiln-build-" + record.id(), job.getMetadata().getName());
        Map<String, String> labels = Map.of("app.kubernetes.io/managed-by", "kiln", "app.kubernetes.io/instance", "kiln",
                "app.kubernetes.io/component", "build", "kiln.dev/build-id", record.id());
        assertEquals(labels, job.getMetadata().getLabels());
        assertEquals(labels, job.getSpec().getTemplate().getMetadata().getLabels());
        assertEquals(0, job.getSpec().getBackoffLimit());
        assertEquals(1800L, job.getSpec().getActiveDeadlineSeconds());
        assertEquals(600, job.getSpec().getTtlSecondsAfterFinished());
        PodSpec pod = job.getSpec().getTemplate().getSpec();
        assertEquals("Never", pod.getRestartPolicy());
        assertEquals("kiln-builder", pod.getServiceAccountName());
        assertEquals(false, pod.getAutomountServiceAccountToken());
        assertEquals("RuntimeDefault", pod.getSecurityContext().getSeccompProfile().getType());
        assertEquals(1, pod.getContainers().size());
        Container c = pod.getContainers().get(0);
        assertEquals("executor", c.getName());
        assertEquals("registry.example/kiln-executor:1", c.getImage());

        List<String> args = c.getArgs();
        Matcher context = ARGS_CONTEXT.matcher(args.get(2));
        assertTrue(context.matches(), args.get(2));
        assertEquals(record.id(), context.group(1));
        assertEquals(List.of("build", "--context", args.get(2), "--dockerfile", "docker/Dockerfile",
                "--destination", "kiln.kiln.svc:5000/builds/app:1", "--destination", "ghcr.io/acme/app:1",
                "--build-arg", "A=b c", "--build-arg", "VERSION=1.2", "--label", "team=web", "--target", "runtime",
                "--custom-platform", "linux/arm64", "--registry-mirror", "kiln.kiln.svc:5000", "--cache",
                "--cache-repo", "kiln.kiln.svc:5000/cache/layers", "--insecure-registry", "kiln.kiln.svc:5000",
                "--sandbox", "in-place", "--digest-file", "/dev/termination-log"), args);
        // the token in the Job opens the uploaded context, once
        ContextTokens.Download download = tokens.open(record.id(), context.group(2));
        assertTrue(download.size() > 0);
        download.consumed();
        assertEquals(403, assertRefused(() -> tokens.open(record.id(), context.group(2))));

        assertEquals(Map.of("KILN_EXECUTOR_CONTAINER", "1", "DOCKER_CONFIG", "/kiln/.docker"),
                c.getEnv().stream().collect(java.util.stream.Collectors.toMap(e -> e.getName(), e -> e.getValue())));
        assertEquals(1, c.getVolumeMounts().size());
        assertEquals("docker-config", c.getVolumeMounts().get(0).getName());
        assertEquals("/kiln/.docker", c.getVolumeMounts().get(0).getMountPath());
        assertEquals(true, c.getVolumeMounts().get(0).getReadOnly());
        assertEquals("regcred", pod.getVolumes().get(0).getSecret().getSecretName());
        assertEquals(".dockerconfigjson", pod.getVolumes().get(0).getSecret().getItems().get(0).getKey());
        assertEquals("config.json", pod.getVolumes().get(0).getSecret().getItems().get(0).getPath());
        assertEquals(Map.of("cpu", new Quantity("250m"), "memory", new Quantity("512Mi")), c.getResources().getRequests());
        assertEquals(Map.of("cpu", new Quantity("1"), "memory", new Quantity("2Gi")), c.getResources().getLimits());
        assertEquals("/dev/termination-log", c.getTerminationMessagePath());
        assertEquals("FallbackToLogsOnError", c.getTerminationMessagePolicy());
        assertEquals(false, c.getSecurityContext().getPrivileged());
        assertEquals(false, c.getSecurityContext().getAllowPrivilegeEscalation());
        assertEquals(List.of("ALL"), c.getSecurityContext().getCapabilities().getDrop());
        assertFalse(c.getSecurityContext().getCapabilities().getAdd().contains("SYS_ADMIN"));
        assertEquals(List.of(), problems);
    }

    @Test
    void prootIsRefusedWhenTheRunnerIsConfigured() {
        IllegalArgumentException refused = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new BuildJobSpec.Settings(NS, "img", List.of(), "kiln:5000", false, false, "cache/layers", null, null, "proot",
                        Map.of(), Map.of(), Duration.ofHours(1), Duration.ofHours(1), "kiln", List.of(), false));
        assertTrue(refused.getMessage().contains("in-place or namespaces"), refused.getMessage());
    }

    @Test
    void aUrlContextGoesToTheExecutorAsItIsAndTheNamespaceSandboxGetsItsCapabilitiesOnAReadOnlyRoot() throws Exception {
        KubernetesBuildRunner runner = new KubernetesBuildRunner(runnerClient, new BuildJobSpec.Settings(NS, "img", List.of("/kiln/bin/kiln"),
                "kiln:5000", true, false, "cache/layers", null, null, "namespaces", Map.of(), Map.of(), Duration.ofHours(1),
                Duration.ofHours(1), "kiln", List.of("registry.team.svc:5000"), false), tokens, WAIT, problems::add);
        runners.add(runner);
        BuildService service = new BuildService(new BuildFiles(store), runner, 1, 1 << 20, Clock.systemUTC(), problems::add);
        services.add(service);
        BuildRecord record = service.submit(new BuildSpec("git://git.example/app.git#main", null, null, null, null, null, false, null), null);
        Job job = awaitJob(record.id());
        Container c = job.getSpec().getTemplate().getSpec().getContainers().get(0);
        assertEquals(List.of("/kiln/bin/kiln"), c.getCommand());
        assertEquals(List.of("build", "--context", "git://git.example/app.git#main", "--dockerfile", "Dockerfile", "--no-push",
                "--cache-repo", "kiln:5000/cache/layers", "--insecure-registry", "registry.team.svc:5000", "--network", "none", "--sandbox", "namespaces",
                "--digest-file", "/dev/termination-log"), c.getArgs());
        assertEquals(0L, c.getSecurityContext().getRunAsUser());
        assertEquals(false, c.getSecurityContext().getPrivileged());
        assertEquals(true, c.getSecurityContext().getReadOnlyRootFilesystem());
        assertEquals(List.of("ALL"), c.getSecurityContext().getCapabilities().getDrop());
        assertTrue(c.getSecurityContext().getCapabilities().getAdd().containsAll(List.of("SYS_ADMIN", "SETFCAP")),
                c.getSecurityContext().toString());
        assertEquals("Unconfined", c.getSecurityContext().getAppArmorProfile().getType());
        assertEquals(List.of(), c.getEnv(), "only an in-place pod is marked as an executor container");
        assertEquals("/kiln/tmp", c.getVolumeMounts().get(0).getMountPath());
        assertNotNull(job.getSpec().getTemplate().getSpec().getVolumes().get(0).getEmptyDir());
        assertFalse(tokens.issued(record.id()), "no token for a context the executor fetches itself");
    }

    @Test
    void podPhasesBecomeBuildStatesAndThePodLogIsCopiedOnceAsItIsWritten() throws Exception {
        BuildService service = open();
        BuildRecord record = service.submit(new BuildSpec(null, null, null, null, null, List.of("kiln:5000/builds/app:1"), false, null),
                archive(Map.of("Dockerfile", "FROM scratch\n")), null);
        Job job = awaitJob(record.id());
        String podName = job.getMetadata().getName() + "-x7k2p";
        Pod pod = createPod(job, podName);
        setStatus(pod, new PodStatusBuilder().withPhase("Pending").addNewCondition().withType("PodScheduled").withStatus("False")
                .withReason("Unschedulable").withMessage("0/3 nodes are available: 3 Insufficient memory.").endCondition().build());
        awaitLog(service, record.id(), "pod " + podName + " pending: Unschedulable: 0/3 nodes are available: 3 Insufficient memory.");
        assertEquals(BuildState.RUNNING, service.require(record.id()).state());

        // the log stream ends early twice (as a dropped connection would) and is opened again: no line twice
        String logPath = "/api/v1/namespaces/" + NS + "/pods/" + podName + "/log?pretty=false&container=executor&timestamps=true&follow=true";
        server.expect().get().withPath(logPath).andReturn(200, "2024-05-01T10:00:00.100000000Z STEP 1/2: FROM scratch\n"
                + "2024-05-01T10:00:00.200000000Z STEP 2/2: COPY a /a\n").always();
        server.expect().get().withPath("/api/v1/namespaces/" + NS + "/pods/" + podName
                        + "/log?pretty=false&container=executor&sinceTime=2024-05-01T10:00:00.200Z&timestamps=true&follow=true")
                .andReturn(200, "2024-05-01T10:00:00.200000000Z STEP 2/2: COPY a /a\n"
                        + "2024-05-01T10:00:01.500000000Z pushed kiln:5000/builds/app:1\n").always();
        server.expect().get().withPath("/api/v1/namespaces/" + NS + "/pods/" + podName
                        + "/log?pretty=false&container=executor&sinceTime=2024-05-01T10:00:01.500Z&timestamps=true&follow=true")
                .andReturn(200, "2024-05-01T10:00:01.500000000Z pushed kiln:5000/builds/app:1\n").always();
        pod = setStatus(pod, new PodStatusBuilder().withPhase("Running").withContainerStatuses(executor("running", 0, null)).build());
        awaitLog(service, record.id(), "pushed kiln:5000/builds/app:1");
        assertEquals(BuildState.RUNNING, service.require(record.id()).state());

        setStatus(pod, new PodStatusBuilder().withPhase("Succeeded").withContainerStatuses(executor("terminated", 0, DIGEST + "\n")).build());
        BuildRecord end = awaitEnd(service, record.id());
        String log = Files.readString(service.logFile(record.id()));
        assertEquals(BuildState.SUCCEEDED, end.state(), log);
        assertEquals(DIGEST, end.digest());
        assertEquals(List.of("kiln:5000/builds/app@" + DIGEST), end.pushed());
        assertEquals(1, count(log, "STEP 1/2: FROM scratch"), log);
        assertEquals(1, count(log, "STEP 2/2: COPY a /a"), log);
        assertEquals(1, count(log, "pushed kiln:5000/builds/app:1"), log);
        assertTrue(log.indexOf("STEP 1/2") < log.indexOf("STEP 2/2") && log.indexOf("STEP 2/2") < log.indexOf("build succeeded"), log);
        assertTrue(log.contains("pod " + podName + " running"), log);
        assertFalse(Files.exists(new BuildFiles(store).context(record.id())), "the context goes once the build ended");
    }

    @Test
    void aFailedPodFailsTheBuildWithTheExitCodeAndTheExecutorsLastLine() throws Exception {
        BuildService service = open();
        BuildRecord record = service.submit(new BuildSpec(null, null, null, null, null, null, false, null),
                archive(Map.of("Dockerfile", "FROM scratch\n")), null);
        Job job = awaitJob(record.id());
        Pod pod = createPod(job, job.getMetadata().getName() + "-abcde");
        setStatus(pod, new PodStatusBuilder().withPhase("Failed")
                .withContainerStatuses(executor("terminated", 1, "STEP 3/3: RUN false\nerror: Dockerfile:3: RUN exit 1: the command returned a non-zero code: 1\n"))
                .build());
        BuildRecord end = awaitEnd(service, record.id());
        assertEquals(BuildState.FAILED, end.state());
        assertEquals("executor exited 1 (Error): Dockerfile:3: RUN exit 1: the command returned a non-zero code: 1", end.error());
    }

    @Test
    void anExecutorImageThatCannotBePulledFailsTheBuildAtOnceAndItsJobGoes() throws Exception {
        BuildService service = open();
        BuildRecord record = service.submit(new BuildSpec(null, null, null, null, null, null, false, null),
                archive(Map.of("Dockerfile", "FROM scratch\n")), null);
        Job job = awaitJob(record.id());
        Pod pod = createPod(job, job.getMetadata().getName() + "-nopul");
        setStatus(pod, new PodStatusBuilder().withPhase("Pending").withContainerStatuses(new ContainerStatusBuilder().withName("executor")
                .withNewState().withNewWaiting().withReason("ImagePullBackOff").withMessage("Back-off pulling image").endWaiting().endState()
                .build()).build());
        BuildRecord end = awaitEnd(service, record.id());
        assertEquals(BuildState.FAILED, end.state());
        assertTrue(end.error().startsWith("the executor image registry.example/kiln-executor:1 cannot be pulled (ImagePullBackOff: "
                + "Back-off pulling image): check kiln.builds.kubernetes.image"), end.error());
        await(() -> client.batch().v1().jobs().inNamespace(NS).withName(job.getMetadata().getName()).get() == null, "the Job deleted");
    }

    @Test
    void aJobThatExceedsItsDeadlineOrIsDeletedFailsTheBuild() throws Exception {
        BuildService service = open();
        BuildSpec spec = new BuildSpec(null, null, null, null, null, null, false, null);
        BuildRecord slow = service.submit(spec, archive(Map.of("Dockerfile", "FROM scratch\n")), null);
        BuildRecord deleted = service.submit(spec, archive(Map.of("Dockerfile", "FROM scratch\n")), null);
        Job slowJob = awaitJob(slow.id());
        slowJob.setStatus(new JobStatusBuilder().addNewCondition().withType("Failed").withStatus("True").withReason("DeadlineExceeded")
                .withMessage("Job was active longer than specified deadline").endCondition().build());
        client.batch().v1().jobs().inNamespace(NS).resource(slowJob).updateStatus();
        awaitJob(deleted.id());
        client.batch().v1().jobs().inNamespace(NS).withName("kiln-build-" + deleted.id()).delete();

        BuildRecord slowEnd = awaitEnd(service, slow.id());
        assertEquals(BuildState.FAILED, slowEnd.state());
        assertEquals("Job kiln-build-" + slow.id() + " failed: DeadlineExceeded: Job was active longer than specified deadline", slowEnd.error());
        BuildRecord deletedEnd = awaitEnd(service, deleted.id());
        assertEquals(BuildState.FAILED, deletedEnd.state());
        assertEquals("Job kiln-build-" + deleted.id() + " was deleted before the build ended", deletedEnd.error());
    }

    @Test
    void cancellingDeletesTheJob() throws Exception {
        BuildService service = open();
        BuildRecord record = service.submit(new BuildSpec(null, null, null, null, null, null, false, null),
                archive(Map.of("Dockerfile", "FROM scratch\n")), null);
        Job job = awaitJob(record.id());
        setStatus(createPod(job, job.getMetadata().getName() + "-zzzzz"),
                new PodStatusBuilder().withPhase("Pending").withContainerStatuses(executor("waiting", 0, null)).build());
        awaitLog(service, record.id(), "pending: ContainerCreating");
        service.cancel(record.id());
        BuildRecord end = awaitEnd(service, record.id());
        assertEquals(BuildState.CANCELLED, end.state());
        assertNull(client.batch().v1().jobs().inNamespace(NS).withName(job.getMetadata().getName()).get());
    }

    @Test
    void stoppingDetachesAndStartingFollowsRunningBuildsAgainAndDeletesOrphans() throws Exception {
        BuildService first = open();
        BuildFiles files = new BuildFiles(store);
        BuildSpec spec = new BuildSpec(null, null, null, null, null, List.of("kiln:5000/builds/app:2"), false, null);
        BuildRecord going = first.submit(spec, archive(Map.of("Dockerfile", "FROM scratch\n")), null);
        BuildRecord vanishing = first.submit(spec, archive(Map.of("Dockerfile", "FROM scratch\n")), null);
        Job goingJob = awaitJob(going.id());
        awaitJob(vanishing.id());
        first.close(10);
        BuildRecord left = BuildRecord.parse(Files.readAllBytes(files.record(going.id())));
        assertEquals(BuildState.RUNNING, left.state(), "a stopping gateway leaves its Jobs running");
        assertTrue(Files.exists(files.context(going.id())), "the pod may still fetch its context after the restart");
        assertNotNull(client.batch().v1().jobs().inNamespace(NS).withName(goingJob.getMetadata().getName()).get());

        // while the gateway is down: one Job is deleted, one appears without a build, one outlives its ended build
        client.batch().v1().jobs().inNamespace(NS).withName("kiln-build-" + vanishing.id()).delete();
        Job stray = client.batch().v1().jobs().inNamespace(NS).resource(new JobBuilder(goingJob).editMetadata()
                .withName("kiln-build-0000000000000000beef").withResourceVersion(null).withUid(null)
                .addToLabels("kiln.dev/build-id", "0000000000000000beef").endMetadata().build()).create();
        BuildRecord ended = BuildRecord.queued("0000000000000000d0e5", spec, Instant.parse("2024-01-01T00:00:00Z"))
                .running(Instant.parse("2024-01-01T00:00:01Z")).succeeded(Instant.parse("2024-01-01T00:00:09Z"), DIGEST, List.of(), null);
        files.save(ended);
        client.batch().v1().jobs().inNamespace(NS).resource(new JobBuilder(goingJob).editMetadata()
                .withName("kiln-build-" + ended.id()).withResourceVersion(null).withUid(null)
                .addToLabels("kiln.dev/build-id", ended.id()).endMetadata().build()).create();
        Job otherGateways = client.batch().v1().jobs().inNamespace(NS).resource(new JobBuilder(goingJob).editMetadata()
                .withName("kiln-build-00000000000000000abc").withResourceVersion(null).withUid(null)
                .addToLabels("app.kubernetes.io/instance", "other").addToLabels("kiln.dev/build-id", "00000000000000000abc")
                .endMetadata().build()).create();

        BuildService second = open();
        assertEquals(BuildState.FAILED, second.require(vanishing.id()).state());
        assertEquals(BuildService.RESTARTED, second.require(vanishing.id()).error());
        assertNull(client.batch().v1().jobs().inNamespace(NS).withName(stray.getMetadata().getName()).get(), "orphan deleted");
        assertNull(client.batch().v1().jobs().inNamespace(NS).withName("kiln-build-" + ended.id()).get(), "ended build's Job deleted");
        assertNotNull(client.batch().v1().jobs().inNamespace(NS).withName(otherGateways.getMetadata().getName()).get(),
                "another gateway's Job is left alone");
        assertEquals(BuildState.RUNNING, second.require(going.id()).state());

        Pod pod = createPod(goingJob, goingJob.getMetadata().getName() + "-after");
        setStatus(pod, new PodStatusBuilder().withPhase("Succeeded").withContainerStatuses(executor("terminated", 0, DIGEST)).build());
        BuildRecord end = awaitEnd(second, going.id());
        assertEquals(BuildState.SUCCEEDED, end.state(), Files.readString(second.logFile(going.id())));
        assertEquals(left.startedAt(), end.startedAt(), "the build kept its start");
        assertTrue(Files.readString(second.logFile(going.id())).contains("following the build again"));
    }

    @Test
    void theRunnerAsksOnlyAndExactlyForWhatTheRoleGrants() throws Exception {
        Set<RunnerPermissions.Permission> asked = new LinkedHashSet<>();
        BuildService service = open();
        BuildRecord record = service.submit(new BuildSpec(null, null, null, null, null, null, false, null),
                archive(Map.of("Dockerfile", "FROM scratch\n")), null);
        Job job = awaitJob(record.id());
        String podName = job.getMetadata().getName() + "-perms";
        server.expect().get().withPath("/api/v1/namespaces/" + NS + "/pods/" + podName
                + "/log?pretty=false&container=executor&timestamps=true&follow=true").andReturn(200, "").always();
        Pod pod = createPod(job, podName);
        setStatus(pod, new PodStatusBuilder().withPhase("Running").withContainerStatuses(executor("running", 0, null)).build());
        awaitLog(service, record.id(), "running");
        asked.addAll(drainRequests());
        client.batch().v1().jobs().inNamespace(NS).withName(job.getMetadata().getName()).delete();
        awaitEnd(service, record.id()); // a vanished Job is confirmed with a get
        asked.addAll(drainRequests());
        BuildRecord cancelled = service.submit(new BuildSpec(null, null, null, null, null, null, false, null),
                archive(Map.of("Dockerfile", "FROM scratch\n")), null);
        awaitJob(cancelled.id());
        service.cancel(cancelled.id());
        awaitEnd(service, cancelled.id());
        asked.addAll(drainRequests());
        assertEquals(Set.copyOf(RunnerPermissions.USED), asked);
    }

    // --- the test's part of the cluster: the Job controller and the kubelet

    private Job awaitJob(String buildId) throws InterruptedException {
        String name = "kiln-build-" + buildId;
        await(() -> client.batch().v1().jobs().inNamespace(NS).withName(name).get() != null, "Job " + name + " created");
        return client.batch().v1().jobs().inNamespace(NS).withName(name).get();
    }

    private Pod createPod(Job job, String name) {
        return client.pods().inNamespace(NS).resource(new PodBuilder().withNewMetadata().withName(name)
                .withLabels(job.getSpec().getTemplate().getMetadata().getLabels())
                .withCreationTimestamp(Instant.now().toString()).endMetadata()
                .withSpec(job.getSpec().getTemplate().getSpec()).build()).create();
    }

    private Pod setStatus(Pod pod, io.fabric8.kubernetes.api.model.PodStatus status) {
        Pod current = client.pods().inNamespace(NS).withName(pod.getMetadata().getName()).get();
        current.setStatus(status);
        return client.pods().inNamespace(NS).resource(current).updateStatus();
    }

    private static ContainerStatus executor(String state, int exitCode, String message) {
        ContainerStatusBuilder b = new ContainerStatusBuilder().withName("executor");
        return switch (state) {
            case "waiting" -> b.withNewState().withNewWaiting().withReason("ContainerCreating").endWaiting().endState().build();
            case "running" -> b.withNewState().withNewRunning().withStartedAt(Instant.now().toString()).endRunning().endState().build();
            default -> b.withNewState().withNewTerminated().withExitCode(exitCode).withReason(exitCode == 0 ? "Completed" : "Error")
                    .withMessage(message).endTerminated().endState().build();
        };
    }

    /** Every request the mock server saw since the last call, as the RBAC (group, resource, verb) it needs. */
    private static Set<RunnerPermissions.Permission> drainRequests() throws InterruptedException {
        Set<RunnerPermissions.Permission> asked = new LinkedHashSet<>();
        for (RecordedRequest r; (r = server.takeRequest(10, TimeUnit.MILLISECONDS)) != null; ) {
            if (!RUNNER_AGENT.equals(r.getHeader("User-Agent"))) {
                continue; // the test's own
            }
            asked.add(permission(r.getMethod(), r.getPath()));
        }
        return asked;
    }

    private static final Pattern API_PATH = Pattern.compile("/(?:api/v1|apis/([^/]+)/[^/]+)/namespaces/[^/]+/([^/?]+)(?:/([^/?]+))?(?:/([^/?]+))?(\\?.*)?");

    static RunnerPermissions.Permission permission(String method, String path) {
        Matcher m = API_PATH.matcher(path);
        if (!m.matches()) {
            return new RunnerPermissions.Permission("?", path, method);
        }
        String group = m.group(1) == null ? "" : m.group(1);
        String resource = m.group(2) + (m.group(4) == null ? "" : "/" + m.group(4));
        boolean named = m.group(3) != null;
        String query = m.group(5) == null ? "" : m.group(5);
        String verb = switch (method) {
            case "POST" -> "create";
            case "DELETE" -> named ? "delete" : "deletecollection";
            case "PUT" -> "update";
            case "PATCH" -> "patch";
            default -> query.contains("watch=true") ? "watch" : named ? "get" : "list";
        };
        return new RunnerPermissions.Permission(group, resource, verb);
    }

    // --- helpers

    private static InputStream archive(Map<String, String> files) throws IOException {
        Path dir = Files.createTempDirectory("kiln-k8s-ctx");
        for (Map.Entry<String, String> f : files.entrySet()) {
            Files.createDirectories(dir.resolve(f.getKey()).getParent());
            Files.writeString(dir.resolve(f.getKey()), f.getValue());
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ContextArchive.write(dir, files.keySet().iterator().next(), out);
        return new ByteArrayInputStream(out.toByteArray());
    }

    private static int assertRefused(org.junit.jupiter.api.function.Executable call) {
        return org.junit.jupiter.api.Assertions.assertThrows(dev.kiln.builder.gateway.BuildRequestException.class, call).status();
    }

    private static void awaitLog(BuildService service, String id, String text) throws Exception {
        await(() -> {
            try {
                return Files.readString(service.logFile(id)).contains(text);
            } catch (IOException e) {
                return false;
            }
        }, "build log containing '" + text + "'");
    }

    private static BuildRecord awaitEnd(BuildService service, String id) throws InterruptedException {
        await(() -> service.require(id).state().ended(), "build " + id + " ended");
        return service.require(id);
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    private static int count(String text, String part) {
        int n = 0;
        for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
            n++;
        }
        return n;
    }
}
