package dev.kiln.builder.stage;

import dev.kiln.builder.dockerfile.Stage;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.plan.BuildPlan;
import dev.kiln.builder.sandbox.Cancellation;
import dev.kiln.builder.steps.StageContext;
import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionService;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs a plan's stages as BuildKit does: each as soon as the stages it needs are built, at most
 * {@code max} working at once. A stage that fails cancels the others and the build reports its
 * error, not the "cancelled" of the stages it stopped; no stage is still running when
 * {@link #run} returns, so the build dir can go.
 */
final class ParallelStages {
    /** Builds one stage; {@link Slot#await} waits for more stages (an ONBUILD trigger's) without holding a slot. */
    interface Work {
        StageContext build(Stage stage, Slot slot) throws IOException, BuildException;
    }

    private final BuildPlan plan;
    private final Cancellation cancellation;
    private final Semaphore slots;
    private final Map<Integer, CompletableFuture<StageContext>> outcomes = new ConcurrentHashMap<>();

    /** @param cancellation cancelled here when a stage fails; cancelling it stops every stage */
    ParallelStages(BuildPlan plan, int max, Cancellation cancellation) {
        this.plan = plan;
        this.cancellation = cancellation;
        // fair: stages start in the order they became ready, which is file order when several are
        this.slots = new Semaphore(max, true);
        for (Stage stage : plan.stages()) {
            outcomes.put(stage.index(), new CompletableFuture<>());
        }
    }

    /** Builds every stage of the plan; answers the last one's context. */
    StageContext run(Work work) throws IOException, BuildException {
        List<Stage> stages = plan.stages();
        AtomicInteger threads = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(stages.size(), r -> {
            Thread t = new Thread(r, "kiln-stage-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        CompletionService<Stage> done = new ExecutorCompletionService<>(pool);
        Set<Stage> started = new HashSet<>();
        Throwable failure = null;
        try {
            for (int finished = 0; finished < stages.size(); finished++) {
                for (Stage stage : stages) {
                    if (!started.contains(stage) && plan.dependencies(stage).stream().allMatch(this::built)) {
                        started.add(stage);
                        done.submit(() -> runOne(stage, work));
                    }
                }
                Future<Stage> next = done.take();
                try {
                    next.get();
                } catch (ExecutionException e) {
                    failure = e.getCause();
                    break;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failure = new BuildException("interrupted");
        } finally {
            if (failure != null) {
                cancellation.cancel();
            }
            stop(pool);
        }
        if (failure instanceof BuildException e) {
            throw e;
        } else if (failure instanceof IOException e) {
            throw e;
        } else if (failure instanceof RuntimeException e) {
            throw e;
        } else if (failure instanceof Error e) {
            throw e;
        } else if (failure != null) {
            throw new BuildException(failure.toString(), failure);
        }
        return outcomes.get(stages.get(stages.size() - 1).index()).join();
    }

    private boolean built(Stage stage) {
        CompletableFuture<StageContext> outcome = outcomes.get(stage.index());
        return outcome.isDone() && !outcome.isCompletedExceptionally();
    }

    private Stage runOne(Stage stage, Work work) throws Exception {
        Slot slot = new Slot();
        try {
            slot.acquire();
            if (cancellation.isCancelled()) {
                throw new BuildException("cancelled");
            }
            outcomes.get(stage.index()).complete(work.build(stage, slot));
            return stage;
        } catch (Throwable t) {
            outcomes.get(stage.index()).completeExceptionally(t);
            throw t;
        } finally {
            slot.release();
        }
    }

    /** Waits for every stage's thread; they stop soon once cancelled (a RUN is killed, a wait interrupted). */
    private static void stop(ExecutorService pool) {
        pool.shutdownNow();
        boolean interrupted = false;
        while (true) {
            try {
                if (pool.awaitTermination(1, TimeUnit.DAYS)) {
                    break;
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** A stage's permission to work; given back while it waits for other stages. */
    final class Slot {
        private boolean held;

        private void acquire() throws BuildException {
            try {
                slots.acquire();
                held = true;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BuildException("cancelled");
            }
        }

        private void release() {
            if (held) {
                held = false;
                slots.release();
            }
        }

        /** Blocks until {@code stages} are built, working on nothing meanwhile. */
        void await(List<Stage> stages) throws BuildException {
            if (stages.stream().allMatch(ParallelStages.this::built)) {
                return;
            }
            release();
            for (Stage stage : stages) {
                try {
                    outcomes.get(stage.index()).get();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new BuildException("cancelled");
                } catch (ExecutionException e) {
                    throw new BuildException("cancelled: stage " + stage.displayName() + " failed", e);
                }
            }
            acquire();
        }
    }
}
