package dev.kiln.builder.gateway;

import dev.kiln.builder.sandbox.Cancellation;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The gateway's builds: accepts them, queues them behind a concurrency limit ({@link BuildQueue}),
 * runs them with a {@link BuildRunner} ({@link BuildExecution}), cancels them, and keeps every
 * record and log in {@link BuildFiles} ({@link BuildRecords}) so they outlive the process. Builds
 * that were waiting or running when the previous process died are marked failed when the service
 * opens.
 */
public final class BuildService implements AutoCloseable {
    public static final String RESTARTED = "gateway restarted";
    public static final String STOPPED = "gateway stopped";

    private static final SecureRandom RANDOM = new SecureRandom();

    private final BuildFiles files;
    private final BuildRunner runner;
    private final long maxContextBytes;
    private final Clock clock;
    private final Consumer<String> problems;
    private final BuildRecords records;
    /** Guarded by this service's monitor. */
    private final BuildQueue queue;
    private final ExecutorService threads;
    private final BuildLimits limits;
    private final ScheduledExecutorService alarms;
    private final BuildExecution execution;
    private boolean stopping;
    private volatile Listener listener = (before, after) -> { };
    /** One-shot wake-ups per build, run at its record's next change ({@link #onNextChange}). */
    private final Map<String, List<Runnable>> waiting = new ConcurrentHashMap<>();

    /** Told of every change of a build's record (state, step, outcome), after it was saved; must not throw or block. */
    public interface Listener {
        /** @param before null when the build was just submitted */
        void changed(BuildRecord before, BuildRecord after);
    }

    public void listen(Listener listener) {
        this.listener = listener;
    }

    /**
     * Runs {@code wake} once, at the next change of build {@code id}'s record after {@code seen}
     * (at once if the record is no longer {@code seen}), so that a log follower ends as the build
     * does instead of at its next poll. Only for this replica's builds: answers false, registering
     * nothing, for one another replica runs. {@code wake} runs on the thread that changed the record
     * and must not block.
     */
    public boolean onNextChange(String id, BuildRecord seen, Runnable wake) {
        if (!records.contains(id)) {
            return false;
        }
        waiting.computeIfAbsent(id, k -> new CopyOnWriteArrayList<>()).add(wake);
        if (records.get(id) != seen) {
            wakeAll(id);
        }
        return true;
    }

    private void changed(BuildRecord before, BuildRecord after) {
        wakeAll(after.id());
        listener.changed(before, after);
    }

    private void wakeAll(String id) {
        List<Runnable> wakes = waiting.remove(id);
        if (wakes != null) {
            wakes.forEach(Runnable::run);
        }
    }

    /** Builds waiting for a slot. */
    public synchronized int queued() {
        return queue.waiting();
    }

    /** Builds holding a slot. */
    public synchronized int running() {
        return queue.running();
    }

    /**
     * @param maxConcurrent   builds that may run at once; the rest wait in submission order
     * @param maxContextBytes the largest uploaded context accepted
     * @param problems        where unreadable records and similar trouble are reported
     */
    public BuildService(BuildFiles files, BuildRunner runner, int maxConcurrent, long maxContextBytes, Clock clock,
                        Consumer<String> problems) throws IOException {
        this(files, runner, maxConcurrent, maxContextBytes, BuildLimits.DEFAULT, clock, problems);
    }

    /** @param limits each build's timeout and log size, and how many builds one submitter may queue */
    public BuildService(BuildFiles files, BuildRunner runner, int maxConcurrent, long maxContextBytes, BuildLimits limits,
                        Clock clock, Consumer<String> problems) throws IOException {
        this.queue = new BuildQueue(maxConcurrent, limits.maxQueuedPerUser());
        this.files = files;
        this.runner = runner;
        this.records = new BuildRecords(files, problems, clock);
        records.listen(this::changed);
        this.maxContextBytes = maxContextBytes;
        this.clock = clock;
        this.problems = problems;
        this.limits = limits;
        this.alarms = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread t = new Thread(task, "kiln-build-timeouts");
            t.setDaemon(true);
            return t;
        });
        AtomicInteger n = new AtomicInteger();
        this.threads = Executors.newCachedThreadPool(task -> {
            Thread t = new Thread(task, "kiln-build-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.execution = new BuildExecution(files, runner, limits, clock, records, alarms, this::isStopping, problems);
        recover();
    }

    private void recover() throws IOException {
        files.clearLeftovers();
        List<BuildRecord> loaded = files.loadAll(problems);
        Set<String> leftRunning = new HashSet<>();
        loaded.stream().filter(r -> r.state() == BuildState.RUNNING).forEach(r -> leftRunning.add(r.id()));
        Set<String> followed = runner.reattach(Set.copyOf(leftRunning));
        for (BuildRecord record : loaded) {
            if (record.state() == BuildState.RUNNING && followed.contains(record.id())) {
                String id = record.id();
                appendLog(id, "gateway restarted; following the build again");
                records.loaded(record);
                Cancellation cancellation = queue.resumed(id);
                threads.execute(() -> run(id, null, cancellation));
                continue;
            }
            if (!record.state().ended()) {
                record = record.ended(BuildState.FAILED, clock.instant(), RESTARTED);
                files.save(record);
                appendLog(record.id(), "error: " + RESTARTED + " while the build was " + (record.startedAt() == null ? "queued" : "running"));
            }
            files.removeTransient(record.id());
            records.loaded(record);
        }
    }

    public long maxContextBytes() {
        return maxContextBytes;
    }

    /**
     * Accepts a build whose context is {@code body}, a tar or tar.gz; streams it to disk, refusing
     * more than the limit, and checks it holds the Dockerfile before the build is queued. A refused
     * upload leaves nothing behind.
     */
    public BuildRecord submit(BuildSpec spec, InputStream body, BuildRunner.Caller caller) throws IOException {
        spec.withContext(null).validated();
        Path upload = newUpload();
        try {
            ContextUpload.receive(body, upload, maxContextBytes);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(upload);
            throw e;
        }
        return submitUploaded(spec, upload, caller);
    }

    /**
     * Where a caller that receives a context itself (the HTTP layer, without tying up a thread on a
     * slow client) writes it: a file under the store's incoming directory, named by the new build's id.
     */
    public Path newUpload() {
        return files.incoming().resolve(newId());
    }

    /** Accepts a build whose context was written to {@code upload}, a path from {@link #newUpload}; a refused upload is deleted. */
    public BuildRecord submitUploaded(BuildSpec spec, Path upload, BuildRunner.Caller caller) throws IOException {
        String id = upload.getFileName().toString();
        BuildSpec checked;
        try {
            checked = spec.withContext(null).validated();
            ContextUpload.check(upload, checked.dockerfileInContext(), limits.maxUnpackedBytes());
            files.adoptContext(id, upload);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(upload);
            discard(id);
            throw e;
        }
        return enqueue(id, checked, caller);
    }

    /** Accepts a build whose context the builder fetches itself from {@code spec.context()}, a URL. */
    public BuildRecord submit(BuildSpec spec, BuildRunner.Caller caller) throws IOException {
        if (spec.context() == null) {
            throw BuildRequestException.invalidSpec("give a context URL, or upload the context as a tar.gz");
        }
        return enqueue(newId(), spec.validated(), caller);
    }

    private BuildRecord enqueue(String id, BuildSpec spec, BuildRunner.Caller caller) throws IOException {
        BuildRecord record = BuildRecord.queued(id, spec, clock.instant(),
                caller == null || caller.credentials() == null ? null : caller.credentials().username());
        synchronized (this) {
            if (stopping) {
                discard(id);
                throw new BuildRequestException(503, "stopping", "Gateway stopping", "the gateway is stopping; submit again later");
            }
            try {
                queue.checkRoom(caller);
            } catch (BuildRequestException e) {
                discard(id);
                throw e;
            }
            records.save(record);
            appendLog(id, "build " + id + " queued");
            queue.add(id, caller);
            dispatch();
        }
        return record;
    }

    /** This replica's builds, else one another replica of the store runs (read from the store each time). */
    public Optional<BuildRecord> get(String id) {
        if (!BuildFiles.isId(id)) {
            return Optional.empty();
        }
        BuildRecord mine = records.get(id);
        try {
            return mine != null ? Optional.of(mine) : files.remote(id);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read build " + id + " from the store: " + e.getMessage(), e);
        }
    }

    public BuildRecord require(String id) {
        return get(id).orElseThrow(() -> BuildRequestException.notFound(id));
    }

    /** Newest first; {@code state} null for all. */
    public List<BuildRecord> list(BuildState state) {
        return records.list(state);
    }

    /** Which finished builds are kept, and pruning them. */
    public BuildRetention retention() {
        return records.retention();
    }

    /** 1 for the next build to start, 0 when the build is not waiting. */
    public synchronized int queuePosition(String id) {
        return queue.position(id);
    }

    public Path logFile(String id) {
        require(id);
        records.retention().logRead(id);
        return records.contains(id) ? files.log(id) : files.remoteLog(id);
    }

    /**
     * A waiting build is taken out of the queue and ends cancelled at once; a running one has its
     * RUN processes killed and ends cancelled shortly after, before anything is pushed.
     */
    public BuildRecord cancel(String id) throws IOException {
        Cancellation cancellation;
        synchronized (this) {
            BuildRecord record = require(id);
            if (record.state().ended()) {
                throw BuildRequestException.alreadyEnded(id, record.state());
            }
            if (queue.removeWaiting(id)) {
                BuildRecord cancelled = records.save(record.ended(BuildState.CANCELLED, clock.instant(), "cancelled while queued"));
                appendLog(id, "build cancelled while queued");
                files.removeTransient(id);
                return cancelled;
            }
            cancellation = queue.cancellation(id);
        }
        if (cancellation != null) {
            appendLog(id, "cancelling: stopping the build");
            cancellation.cancel();
        }
        return require(id);
    }

    private synchronized void dispatch() {
        if (stopping) {
            return;
        }
        for (BuildQueue.Start start : queue.startable()) {
            threads.execute(() -> run(start.id(), start.caller(), start.cancellation()));
        }
    }

    private void run(String id, BuildRunner.Caller caller, Cancellation cancellation) {
        boolean detached = false;
        try {
            detached = !execution.run(id, caller, cancellation);
        } finally {
            if (!detached) {
                files.removeTransient(id); // a detached build's context may still be fetched after the restart
            }
            synchronized (this) {
                queue.finished(id);
                dispatch();
            }
        }
    }

    private synchronized boolean isStopping() {
        return stopping;
    }

    private void appendLog(String id, String line) {
        files.appendLine(id, line, problems);
    }

    private void discard(String id) {
        files.removeTransient(id);
        try {
            Files.deleteIfExists(files.dir(id));
        } catch (IOException ignored) {
            // not empty: it belongs to an accepted build
        }
    }

    private String newId() {
        byte[] bytes = new byte[10];
        String id;
        do {
            RANDOM.nextBytes(bytes);
            id = HexFormat.of().formatHex(bytes);
        } while (records.contains(id) || Files.exists(files.dir(id)));
        return id;
    }

    /**
     * Stops accepting builds; waiting ones end failed, running ones are cancelled and end failed
     * ({@value #STOPPED}), waiting up to {@code grace} seconds for them. Builds of a runner whose
     * builds {@linkplain BuildRunner#outlivesGateway outlive the gateway} are detached instead: they
     * stay running and are followed again at the next start.
     */
    public void close(long graceSeconds) {
        List<Cancellation> toCancel;
        synchronized (this) {
            if (stopping) {
                return;
            }
            stopping = true;
            for (String id : queue.drainWaiting()) {
                try {
                    records.update(id, r -> r.ended(BuildState.FAILED, clock.instant(), STOPPED));
                    appendLog(id, "error: " + STOPPED + " while the build was queued");
                } catch (RuntimeException e) {
                    problems.accept("build " + id + ": " + e.getMessage());
                }
                files.removeTransient(id);
            }
            toCancel = queue.runningCancellations();
        }
        if (runner.outlivesGateway()) {
            runner.detachAll();
        } else {
            toCancel.forEach(Cancellation::cancel);
        }
        threads.shutdown();
        alarms.shutdownNow();
        try {
            threads.awaitTermination(graceSeconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        close(30);
    }
}
