package dev.kiln.app.kubernetes;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * This gateway's build Jobs and their pods, as two informers keep them: listed once, then watched,
 * and listed and watched again whenever the watch breaks. Waiting build threads are woken on every
 * change.
 */
final class BuildObjects implements AutoCloseable {
    private static final String BY_BUILD = "build-id";

    private final SharedIndexInformer<Job> jobs;
    private final SharedIndexInformer<Pod> pods;
    private final Object lock = new Object();
    private long version;

    BuildObjects(KubernetesClient client, String namespace, Map<String, String> selector, Duration startTimeout,
                 Consumer<String> problems) {
        Function<HasMetadata, List<String>> byBuild = o -> {
            String id = o.getMetadata().getLabels() == null ? null : o.getMetadata().getLabels().get(BuildJobSpec.BUILD_ID);
            return id == null ? List.of() : List.of(id);
        };
        ResourceEventHandler<HasMetadata> wake = new ResourceEventHandler<>() {
            @Override
            public void onAdd(HasMetadata obj) {
                poke();
            }

            @Override
            public void onUpdate(HasMetadata oldObj, HasMetadata newObj) {
                poke();
            }

            @Override
            public void onDelete(HasMetadata obj, boolean deletedFinalStateUnknown) {
                poke();
            }
        };
        jobs = client.batch().v1().jobs().inNamespace(namespace).withLabels(selector).runnableInformer(0);
        jobs.addIndexers(Map.of(BY_BUILD, byBuild::apply)).addEventHandler(wake).exceptionHandler((started, failure) -> {
            problems.accept("watching build Jobs in namespace " + namespace + ": " + failure + "; retrying");
            return true;
        });
        pods = client.pods().inNamespace(namespace).withLabels(selector).runnableInformer(0);
        pods.addIndexers(Map.of(BY_BUILD, byBuild::apply)).addEventHandler(wake).exceptionHandler((started, failure) -> {
            problems.accept("watching build pods in namespace " + namespace + ": " + failure + "; retrying");
            return true;
        });
        try {
            jobs.start().toCompletableFuture().get(startTimeout.toMillis(), TimeUnit.MILLISECONDS);
            pods.start().toCompletableFuture().get(startTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            close();
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new IllegalStateException("cannot list the build Jobs and pods in namespace " + namespace + " within "
                    + startTimeout.toSeconds() + "s: " + cause, cause);
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while listing the build Jobs in namespace " + namespace, e);
        }
    }

    /** The build's Job as last seen, or null. */
    Job job(String buildId) {
        return jobs.getIndexer().byIndex(BY_BUILD, buildId).stream().findFirst().orElse(null);
    }

    /** The build's newest pod as last seen, or null. */
    Pod pod(String buildId) {
        return pods.getIndexer().byIndex(BY_BUILD, buildId).stream()
                .max(Comparator.comparing((Pod p) -> String.valueOf(p.getMetadata().getCreationTimestamp()))).orElse(null);
    }

    List<Job> jobs() {
        return jobs.getStore().list();
    }

    /** A number that grows with every change seen; pass it to {@link #awaitChange}. */
    long version() {
        synchronized (lock) {
            return version;
        }
    }

    /** Returns once something changed after {@code seen}, or after {@code millis}. */
    void awaitChange(long seen, long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        synchronized (lock) {
            for (long left = millis; version == seen && left > 0; left = deadline - System.currentTimeMillis()) {
                lock.wait(left);
            }
        }
    }

    /** Wakes every waiting build. */
    void poke() {
        synchronized (lock) {
            version++;
            lock.notifyAll();
        }
    }

    @Override
    public void close() {
        jobs.stop();
        pods.stop();
    }
}
