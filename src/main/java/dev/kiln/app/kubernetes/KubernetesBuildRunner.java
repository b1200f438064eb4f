package dev.kiln.app.kubernetes;

import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.gateway.BuildRunner;
import dev.kiln.builder.gateway.ContextTokens;
import dev.kiln.oci.image.ImageReference;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStateWaiting;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.HttpURLConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Runs each gateway build as a Kubernetes Job ({@link BuildJobSpec}) and follows it to its end:
 * the pod's phases become log lines and the build's outcome, the pod's log is copied into the
 * build's log as it is written, the digest comes from the container's termination message.
 * Cancelling deletes the Job. The Jobs go on while the gateway is down: stopping detaches from
 * them, and starting again follows those whose build is still running and deletes the rest.
 */
public final class KubernetesBuildRunner implements BuildRunner, AutoCloseable {
    private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
    /** How long a Job may be missing from the watch after it was created before the API server is asked. */
    private static final Duration NOT_YET_SEEN = Duration.ofSeconds(10);
    private static final Duration LOG_DRAIN = Duration.ofSeconds(30);
    private static final long RECHECK_MILLIS = 2000;

    private final KubernetesClient client;
    private final BuildJobSpec.Settings settings;
    private final ContextTokens tokens;
    private final BuildObjects objects;
    private final ExecutorService logThreads;
    private volatile boolean detaching;

    /**
     * Starts watching this gateway's Jobs and pods; fails when they cannot be listed.
     *
     * @param problems where trouble that does not fail a build is reported
     */
    public KubernetesBuildRunner(KubernetesClient client, BuildJobSpec.Settings settings, ContextTokens tokens,
                                 Duration startTimeout, Consumer<String> problems) {
        this.client = client;
        this.settings = settings;
        this.tokens = tokens;
        this.objects = new BuildObjects(client, settings.namespace(), settings.selector(), startTimeout, problems);
        AtomicInteger n = new AtomicInteger();
        this.logThreads = Executors.newCachedThreadPool(task -> {
            Thread t = new Thread(task, "kiln-pod-log-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        if (settings.dockerConfigSecret() != null) {
            try {
                if (client.secrets().inNamespace(settings.namespace()).withName(settings.dockerConfigSecret()).get() == null) {
                    problems.accept("the registry Secret " + settings.dockerConfigSecret() + " does not exist in namespace "
                            + settings.namespace() + ": build pods will wait for it (CreateContainerConfigError)");
                }
            } catch (KubernetesClientException e) {
                problems.accept("cannot read the registry Secret " + settings.dockerConfigSecret() + ": " + e.getMessage());
            }
        }
    }

    @Override
    public Outcome run(Job job) throws BuildException {
        String name = BuildJobSpec.jobName(job.id());
        PrintStream log = job.log();
        if (objects.job(job.id()) == null) {
            create(job, name);
        } else {
            log.println("following Job " + name + " in namespace " + settings.namespace());
        }
        Runnable wake = objects::poke;
        job.cancellation().onCancel(wake);
        Following following = new Following(job, name);
        try {
            return following.await();
        } finally {
            job.cancellation().remove(wake);
            following.stopLog();
        }
    }

    private void create(Job job, String name) throws BuildException {
        String context;
        if (job.archive() != null) {
            try {
                context = settings.gatewayUrl() + "/api/v1/builds/" + job.id() + "/context?token=" + tokens.issue(job.id());
            } catch (IOException e) {
                throw new BuildException("cannot issue the context token of build " + job.id() + ": " + e.getMessage(), e);
            }
        } else if (job.spec().context() != null) {
            context = job.spec().context();
        } else {
            // a followed build whose Job vanished after the restart: its upload was fetched or removed already
            throw new BuildException("the uploaded context of build " + job.id() + " is gone; submit the build again");
        }
        io.fabric8.kubernetes.api.model.batch.v1.Job spec = BuildJobSpec.job(job.id(), job.spec(), context, settings);
        try {
            client.batch().v1().jobs().inNamespace(settings.namespace()).resource(spec).create();
            job.log().println("created Job " + name + " in namespace " + settings.namespace() + " (image " + settings.image() + ")");
        } catch (KubernetesClientException e) {
            if (e.getCode() != HttpURLConnection.HTTP_CONFLICT) {
                throw new BuildException("cannot create Job " + name + " in namespace " + settings.namespace() + ": "
                        + reason(e), e);
            }
            job.log().println("following Job " + name + ", which exists already");
        }
    }

    /** One build's wait for its Job to end. */
    private final class Following {
        private final Job job;
        private final String name;
        private final long startedAt = System.nanoTime();
        private final Set<String> notes = new HashSet<>();
        private boolean seen;
        private PodLogFollower follower;
        private Future<?> followerDone;

        Following(Job job, String name) {
            this.job = job;
            this.name = name;
        }

        Outcome await() throws BuildException {
            try {
                while (true) {
                    long version = objects.version();
                    if (job.cancellation().isCancelled()) {
                        delete(name);
                        throw new BuildException("cancelled: deleted Job " + name);
                    }
                    if (detaching) {
                        throw new Detached("gateway stopping: the build goes on in Job " + name
                                + " and is followed again when the gateway starts");
                    }
                    io.fabric8.kubernetes.api.model.batch.v1.Job k8sJob = objects.job(job.id());
                    Pod pod = objects.pod(job.id());
                    checkStillThere(k8sJob);
                    if (pod != null) {
                        Outcome outcome = follow(pod);
                        if (outcome != null) {
                            return outcome;
                        }
                    }
                    String jobFailure = k8sJob == null ? null : failure(k8sJob);
                    if (jobFailure != null) {
                        drainLog();
                        throw new BuildException("Job " + name + " failed: " + jobFailure);
                    }
                    objects.awaitChange(version, RECHECK_MILLIS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Detached("interrupted while following Job " + name);
            }
        }

        private void checkStillThere(io.fabric8.kubernetes.api.model.batch.v1.Job k8sJob) throws BuildException {
            if (k8sJob != null) {
                seen = true;
                return;
            }
            if (!seen && System.nanoTime() - startedAt < NOT_YET_SEEN.toNanos()) {
                return;
            }
            // the watch may lag behind: only the API server can say the Job is gone
            io.fabric8.kubernetes.api.model.batch.v1.Job live = client.batch().v1().jobs().inNamespace(settings.namespace()).withName(name).get();
            if (live == null) {
                stopLog(); // its pod goes with it
                throw new BuildException("Job " + name + " was deleted before the build ended");
            }
            seen = true;
        }

        /** Notes the pod's progress; the outcome once it ended, else null. */
        private Outcome follow(Pod pod) throws BuildException {
            String podName = pod.getMetadata().getName();
            String phase = pod.getStatus() == null ? "Pending" : String.valueOf(pod.getStatus().getPhase());
            ContainerStatus executor = executorStatus(pod);
            boolean started = executor != null && executor.getState() != null
                    && (executor.getState().getRunning() != null || executor.getState().getTerminated() != null);
            if (started && follower == null) {
                startLog(podName);
            }
            switch (phase) {
                case "Pending" -> {
                    pendingNotes(pod, executor);
                    refuseUnpullableImage(pod, executor);
                }
                case "Running" -> note("pod " + podName + " running"
                        + (pod.getSpec() == null || pod.getSpec().getNodeName() == null ? "" : " on node " + pod.getSpec().getNodeName()));
                case "Succeeded" -> {
                    drainLog();
                    return succeeded(podName, terminated(executor));
                }
                case "Failed" -> {
                    drainLog();
                    throw failed(pod, terminated(executor));
                }
                default -> note("pod " + podName + " is " + phase);
            }
            return null;
        }

        private void pendingNotes(Pod pod, ContainerStatus executor) {
            String podName = pod.getMetadata().getName();
            for (PodCondition condition : pod.getStatus() == null ? List.<PodCondition>of() : pod.getStatus().getConditions()) {
                if ("PodScheduled".equals(condition.getType()) && "False".equals(condition.getStatus())) {
                    note("pod " + podName + " pending: " + condition.getReason() + ": " + condition.getMessage());
                }
            }
            ContainerStateWaiting waiting = executor == null || executor.getState() == null ? null : executor.getState().getWaiting();
            if (waiting != null && waiting.getReason() != null) {
                note("pod " + podName + " pending: " + waiting.getReason()
                        + (waiting.getMessage() == null ? "" : ": " + waiting.getMessage()));
            } else {
                note("pod " + podName + " pending");
            }
        }

        /**
         * A kubelet retries a pull that failed for as long as the Job may run (an hour by default),
         * with the build queued behind it: once it backs off, or the name cannot be an image at
         * all, the build fails with the reason and the Job goes.
         */
        private void refuseUnpullableImage(Pod pod, ContainerStatus executor) throws BuildException {
            ContainerStateWaiting waiting = executor == null || executor.getState() == null ? null : executor.getState().getWaiting();
            if (waiting == null || !UNPULLABLE.contains(String.valueOf(waiting.getReason()))) {
                return;
            }
            delete(name);
            throw new BuildException("the executor image " + settings.image() + " cannot be pulled (" + waiting.getReason()
                    + (waiting.getMessage() == null ? "" : ": " + waiting.getMessage())
                    + "): check kiln.builds.kubernetes.image and that the nodes can pull from its registry; deleted Job " + name);
        }

        private Outcome succeeded(String podName, ContainerStateTerminated end) throws BuildException {
            String message = end == null || end.getMessage() == null ? "" : end.getMessage().trim();
            if (!DIGEST.matcher(message).matches()) {
                throw new BuildException("pod " + podName + " succeeded without a digest in its termination message"
                        + (message.isEmpty() ? "" : " (it says: " + lastLine(message) + ")"));
            }
            List<String> pushed = new ArrayList<>();
            for (String destination : job.spec().destinations()) {
                pushed.add(ImageReference.parse(destination).context() + "@" + message);
            }
            return new Outcome(message, pushed);
        }

        private BuildException failed(Pod pod, ContainerStateTerminated end) {
            String podName = pod.getMetadata().getName();
            if (end == null) {
                String why = pod.getStatus() == null ? null : pod.getStatus().getReason();
                String detail = pod.getStatus() == null ? null : pod.getStatus().getMessage();
                return new BuildException("pod " + podName + " failed" + (why == null ? "" : ": " + why)
                        + (detail == null ? "" : ": " + detail));
            }
            String last = end.getMessage() == null ? "" : lastLine(end.getMessage());
            return new BuildException("executor exited " + end.getExitCode()
                    + (end.getReason() == null ? "" : " (" + end.getReason() + ")")
                    + (last.isEmpty() ? "" : ": " + last.replaceFirst("^error: ", "")));
        }

        private void note(String line) {
            if (notes.add(line)) {
                job.log().println(line);
            }
        }

        private void startLog(String podName) {
            follower = new PodLogFollower(client, settings.namespace(), podName, job.log(),
                    job.workDir().resolve("pod-log.position"), () -> {
                        Pod now = objects.pod(job.id());
                        return now == null || terminated(executorStatus(now)) != null;
                    });
            followerDone = logThreads.submit(follower);
        }

        /** Lets the log follower copy what is left, for a while. */
        private void drainLog() {
            if (followerDone == null) {
                return;
            }
            try {
                followerDone.get(LOG_DRAIN.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                job.log().println("warning: the pod's log could not be read to its end: " + e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                stopLog();
            }
        }

        void stopLog() {
            if (follower != null) {
                follower.stop();
            }
        }
    }

    /** Waiting reasons after which a kubelet's further pulls only back off longer. */
    private static final Set<String> UNPULLABLE = Set.of("ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull");

    private static ContainerStatus executorStatus(Pod pod) {
        if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
            return null;
        }
        return pod.getStatus().getContainerStatuses().stream().filter(s -> BuildJobSpec.CONTAINER.equals(s.getName()))
                .findFirst().orElse(null);
    }

    private static ContainerStateTerminated terminated(ContainerStatus status) {
        return status == null || status.getState() == null ? null : status.getState().getTerminated();
    }

    /** The reason a Job failed without its pod saying so (deadline exceeded, pod deleted), or null. */
    private static String failure(io.fabric8.kubernetes.api.model.batch.v1.Job job) {
        if (job.getStatus() == null || job.getStatus().getConditions() == null) {
            return null;
        }
        for (JobCondition condition : job.getStatus().getConditions()) {
            if ("Failed".equals(condition.getType()) && "True".equals(condition.getStatus())) {
                return condition.getReason() + (condition.getMessage() == null ? "" : ": " + condition.getMessage());
            }
        }
        return null;
    }

    private static String lastLine(String text) {
        String[] lines = text.strip().split("\n");
        return lines.length == 0 ? "" : lines[lines.length - 1].strip();
    }

    private void delete(String jobName) {
        try {
            client.batch().v1().jobs().inNamespace(settings.namespace()).withName(jobName)
                    .withPropagationPolicy(DeletionPropagation.BACKGROUND).delete();
        } catch (KubernetesClientException e) {
            throw new IllegalStateException("cannot delete Job " + jobName + ": " + reason(e), e);
        }
    }

    private static String reason(KubernetesClientException e) {
        return e.getStatus() != null && e.getStatus().getMessage() != null ? e.getStatus().getMessage() : e.getMessage();
    }

    /**
     * Follows again the builds whose Job is still there; deletes this gateway's Jobs whose build is
     * not running (orphans: the build ended, or its record is gone).
     */
    @Override
    public Set<String> reattach(Set<String> leftRunning) {
        Set<String> alive = new HashSet<>();
        for (io.fabric8.kubernetes.api.model.batch.v1.Job k8sJob : objects.jobs()) {
            String id = k8sJob.getMetadata().getLabels().get(BuildJobSpec.BUILD_ID);
            if (id != null && leftRunning.contains(id)) {
                alive.add(id);
            } else {
                delete(k8sJob.getMetadata().getName());
            }
        }
        return alive;
    }

    @Override
    public boolean outlivesGateway() {
        return true;
    }

    @Override
    public void detachAll() {
        detaching = true;
        objects.poke();
    }

    @Override
    public void close() {
        detachAll();
        objects.close();
        logThreads.shutdownNow();
    }
}
