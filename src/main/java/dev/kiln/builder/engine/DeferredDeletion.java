package dev.kiln.builder.engine;

import dev.kiln.builder.rootfs.Trees;
import java.nio.file.Path;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;

/**
 * Build dirs removed after their build is reported. Emptying one costs thousands of unlinks (1.8 s
 * for the heavy benchmark's 10,000 files and 100 MB at load 3.6, far more under load on a disk
 * mounted with {@code discard}), and neither the gateway's record nor the command's digest needs to
 * wait for them. One thread per process deletes them in turn, and the process waits for it at exit,
 * so a one-shot {@code kiln build} (a Kubernetes Job) still leaves nothing behind. The gateway keeps
 * its build dirs in each build's work dir, which it removes again once the record is saved and
 * empties at start-up, so a crash mid-deletion leaks nothing either.
 */
final class DeferredDeletion {
    private static final DeferredDeletion PROCESS = processWide();

    private final Executor executor;
    private final Object lock = new Object();
    private int pending;

    DeferredDeletion(Executor executor) {
        this.executor = executor;
    }

    static DeferredDeletion process() {
        return PROCESS;
    }

    private static DeferredDeletion processWide() {
        ExecutorService thread = Executors.newSingleThreadExecutor(task -> {
            Thread t = new Thread(task, "kiln-build-dir-deletion");
            // daemon: a gateway that stops is not held up by it; exits wait through the hook below
            t.setDaemon(true);
            return t;
        });
        DeferredDeletion deletion = new DeferredDeletion(thread);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                deletion.awaitIdle(Long.MAX_VALUE);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "kiln-build-dir-deletion-at-exit"));
        return deletion;
    }

    /** Deletes {@code dir} and everything below it, later; now when no thread takes it (the process is ending). */
    void delete(Path dir) {
        synchronized (lock) {
            pending++;
        }
        Runnable task = () -> {
            try {
                Trees.deleteQuietly(dir);
            } finally {
                synchronized (lock) {
                    pending--;
                    lock.notifyAll();
                }
            }
        };
        try {
            executor.execute(task);
        } catch (RejectedExecutionException e) {
            task.run();
        }
    }

    /** @return true when every deletion asked for has ended, false when {@code millis} passed first */
    boolean awaitIdle(long millis) throws InterruptedException {
        long deadline = millis == Long.MAX_VALUE ? Long.MAX_VALUE : System.nanoTime() + millis * 1_000_000;
        synchronized (lock) {
            while (pending > 0) {
                long left = deadline == Long.MAX_VALUE ? 0 : (deadline - System.nanoTime()) / 1_000_000;
                if (deadline != Long.MAX_VALUE && left <= 0) {
                    return false;
                }
                lock.wait(deadline == Long.MAX_VALUE ? 0 : left);
            }
            return true;
        }
    }
}
