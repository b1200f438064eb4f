package dev.kiln.builder.gateway;

import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.sandbox.Cancellation;
import dev.kiln.store.FsFiles;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The gateway's builds: accepts them, queues them behind a concurrency limit, runs them with a
 * {@link BuildRunner}, cancels them, and keeps every record and log in {@link BuildFiles} so they
 * outlive the process. Builds that were waiting or running when the previous process died are
 * marked failed when the service opens.
 */
public final class BuildService implements AutoCloseable {
    public static final String RESTARTED = "gateway restarted";
    public static final String STOPPED = "gateway stopped";

    private static final SecureRandom RANDOM = new SecureRandom();

    private final BuildFiles files;
    private final BuildRunner runner;
    private final int maxConcurrent;
    private final long maxContextBytes;
    private final Clock clock;
    private final Consumer<String> problems;
    private final Map<String, BuildRecord> records = new ConcurrentHashMap<>();
    private final LinkedHashMap<String, BuildRunner.Caller> waiting = new LinkedHashMap<>();
    private final Map<String, Cancellation> running = new LinkedHashMap<>();
    private final ExecutorService threads;
    private final BuildLimits limits;
    private final Map<String, String> owners = new ConcurrentHashMap<>();
    private final java.util.concurrent.ScheduledExecutorService alarms;
    private boolean stopping;
    private volatile Listener listener = (before, after) -> { };

    /** Told of every change of a build's record (state, step, outcome), after it was saved; must not throw or block. */
    public interface Listener {
        /** @param before null when the build was just submitted */
        void changed(BuildRecord before, BuildRecord after);
    }

    public void listen(Listener listener) {
        this.listener = listener;
    }

    /** Builds waiting for a slot. */
    public synchronized int queued() {
        return waiting.size();
    }

    /** Builds holding a slot. */
    public synchronized int running() {
        return running.size();
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
        if (maxConcurrent < 1) {
            throw new IllegalArgumentException("at least one build must be allowed to run, not " + maxConcurrent);
        }
        this.files = files;
        this.runner = runner;
        this.maxConcurrent = maxConcurrent;
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
        recover();
    }

    private void recover() throws IOException {
        files.clearIncoming();
        List<BuildRecord> loaded = files.loadAll(problems);
        Set<String> leftRunning = new HashSet<>();
        loaded.stream().filter(r -> r.state() == BuildState.RUNNING).forEach(r -> leftRunning.add(r.id()));
        Set<String> followed = runner.reattach(Set.copyOf(leftRunning));
        for (BuildRecord record : loaded) {
            if (record.state() == BuildState.RUNNING && followed.contains(record.id())) {
                String id = record.id();
                appendLog(id, "gateway restarted; following the build again");
                records.put(id, record);
                Cancellation cancellation = new Cancellation();
                running.put(id, cancellation);
                threads.execute(() -> run(id, null, cancellation));
                continue;
            }
            if (!record.state().ended()) {
                record = record.ended(BuildState.FAILED, clock.instant(), RESTARTED);
                files.save(record);
                appendLog(record.id(), "error: " + RESTARTED + " while the build was " + (record.startedAt() == null ? "queued" : "running"));
            }
            files.removeTransient(record.id());
            records.put(record.id(), record);
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
            files.removeTransient(id);
            deleteEmptyDir(files.dir(id));
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
                files.removeTransient(id);
                deleteEmptyDir(files.dir(id));
                throw new BuildRequestException(503, "stopping", "Gateway stopping", "the gateway is stopping; submit again later");
            }
            String owner = owner(caller);
            long mine = owners.values().stream().filter(owner::equals).count();
            if (mine >= limits.maxQueuedPerUser()) {
                files.removeTransient(id);
                deleteEmptyDir(files.dir(id));
                throw new BuildRequestException(429, "too-many-builds", "Too many builds",
                        (owner.isEmpty() ? "anonymous submitters have " : "you have ") + mine
                                + " builds queued or running, the most allowed (kiln.builds.limits.max-queued-per-user); "
                                + "wait for one to end");
            }
            files.save(record);
            appendLog(id, "build " + id + " queued");
            records.put(id, record);
            tell(null, record);
            owners.put(id, owner);
            waiting.put(id, caller);
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
        return records.values().stream()
                .filter(r -> state == null || r.state() == state)
                .sorted(Comparator.comparing(BuildRecord::createdAt).reversed().thenComparing(BuildRecord::id))
                .toList();
    }

    /** 1 for the next build to start, 0 when the build is not waiting. */
    public synchronized int queuePosition(String id) {
        int position = 1;
        for (String waitingId : waiting.keySet()) {
            if (waitingId.equals(id)) {
                return position;
            }
            position++;
        }
        return 0;
    }

    public Path logFile(String id) {
        require(id);
        return records.containsKey(id) ? files.log(id) : files.remoteLog(id);
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
            if (waiting.containsKey(id)) {
                waiting.remove(id);
                owners.remove(id);
                BuildRecord cancelled = record.ended(BuildState.CANCELLED, clock.instant(), "cancelled while queued");
                files.save(cancelled);
                records.put(id, cancelled);
                tell(record, cancelled);
                appendLog(id, "build cancelled while queued");
                files.removeTransient(id);
                return cancelled;
            }
            cancellation = running.get(id);
        }
        if (cancellation != null) {
            appendLog(id, "cancelling: stopping the build");
            cancellation.cancel();
        }
        return require(id);
    }

    private synchronized void dispatch() {
        while (!stopping && running.size() < maxConcurrent && !waiting.isEmpty()) {
            Map.Entry<String, BuildRunner.Caller> next = waiting.entrySet().iterator().next();
            waiting.remove(next.getKey());
            Cancellation cancellation = new Cancellation();
            running.put(next.getKey(), cancellation);
            String id = next.getKey();
            BuildRunner.Caller caller = next.getValue();
            threads.execute(() -> run(id, caller, cancellation));
        }
    }

    /** Whose build it is, for the per-user queue limit: the user name it authenticated with, else "". */
    private static String owner(BuildRunner.Caller caller) {
        return caller == null || caller.credentials() == null || caller.credentials().username() == null ? ""
                : caller.credentials().username();
    }

    private void run(String id, BuildRunner.Caller caller, Cancellation cancellation) {
        boolean detached = false;
        java.util.concurrent.atomic.AtomicBoolean timedOut = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.ScheduledFuture<?> alarm = alarms.schedule(() -> {
            timedOut.set(true);
            cancellation.cancel();
        }, limits.timeout().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        Path logFile = files.log(id);
        CappedLog capped;
        try {
            capped = new CappedLog(new FileOutputStream(logFile.toFile(), true), limits.maxLogBytes(),
                    Files.exists(logFile) ? Files.size(logFile) : 0);
        } catch (IOException e) {
            capped = null;
        }
        try (PrintStream log = capped != null ? new PrintStream(capped, true, StandardCharsets.UTF_8)
                : new PrintStream(new FileOutputStream(logFile.toFile(), true), true, StandardCharsets.UTF_8)) {
            boolean resumed = current(id).state() == BuildState.RUNNING;
            BuildRecord started = resumed ? current(id) : update(id, r -> r.running(clock.instant()));
            if (!resumed) {
                log.println("build " + id + " started");
            }
            BuildRecord end;
            try {
                Path archive = files.context(id);
                Path work = FsFiles.createDirectories(files.work(id));
                BuildRunner.Job job = new BuildRunner.Job(id, started.spec(), Files.exists(archive) ? archive : null, work, log,
                        cancellation, step -> recordStep(id, step), caller);
                BuildRunner.Outcome outcome = runner.run(job);
                if (cancellation.isCancelled()) {
                    throw new BuildException("cancelled");
                }
                end = current(id).succeeded(clock.instant(), outcome.digest(), outcome.pushed(), outcome.report());
                endLine(log, capped, "build succeeded: " + outcome.digest());
            } catch (BuildRunner.Detached e) {
                log.println(e.getMessage());
                detached = true;
                return;
            } catch (BuildException | IOException | RuntimeException e) {
                String message = e.getMessage() == null ? e.toString() : e.getMessage();
                if (cancellation.isCancelled() && timedOut.get()) {
                    String why = "timed out after " + limits.timeout() + " (kiln.builds.limits.timeout)";
                    end = current(id).ended(BuildState.FAILED, clock.instant(), why);
                    endLine(log, capped, "error: " + why);
                } else if (cancellation.isCancelled()) {
                    boolean stop = isStopping();
                    end = current(id).ended(stop ? BuildState.FAILED : BuildState.CANCELLED, clock.instant(),
                            stop ? STOPPED : "cancelled");
                    endLine(log, capped, "build " + (stop ? "failed: " + STOPPED : "cancelled") + " (" + message + ")");
                } else {
                    end = current(id).ended(BuildState.FAILED, clock.instant(), message);
                    endLine(log, capped, "error: " + message);
                }
            }
            BuildRecord finalRecord = end;
            update(id, r -> finalRecord);
        } catch (IOException | RuntimeException e) {
            problems.accept("build " + id + ": " + e);
            try {
                update(id, r -> r.ended(BuildState.FAILED, clock.instant(), "gateway error: " + e.getMessage()));
            } catch (RuntimeException again) {
                problems.accept("build " + id + ": cannot record the failure: " + again);
            }
        } finally {
            alarm.cancel(false);
            if (!detached) {
                files.removeTransient(id); // a detached build's context may still be fetched after the restart
            }
            synchronized (this) {
                running.remove(id);
                owners.remove(id);
                dispatch();
            }
        }
    }

    /** The outcome line gets into the log even when the log is full. */
    private static void endLine(PrintStream log, CappedLog capped, String line) {
        if (capped == null) {
            log.println(line);
            return;
        }
        log.flush();
        try {
            capped.writeAnyway(line);
        } catch (IOException e) {
            log.println(line);
        }
    }

    private void recordStep(String id, BuildEvent.StepFinished step) {
        update(id, r -> r.withStep(new BuildRecord.Step(step.stage(), step.number(), step.total(), step.instruction(),
                step.duration().toMillis(), step.cached())));
    }

    private synchronized boolean isStopping() {
        return stopping;
    }

    private BuildRecord current(String id) {
        return records.get(id);
    }

    private synchronized BuildRecord update(String id, java.util.function.UnaryOperator<BuildRecord> change) {
        BuildRecord before = records.get(id);
        BuildRecord next = change.apply(before);
        try {
            files.save(next);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save build " + id + ": " + e.getMessage(), e);
        }
        records.put(id, next);
        tell(before, next);
        return next;
    }

    private void tell(BuildRecord before, BuildRecord after) {
        try {
            listener.changed(before, after);
        } catch (RuntimeException e) {
            problems.accept("build " + after.id() + ": a listener failed: " + e);
        }
    }

    private void appendLog(String id, String line) {
        files.appendLine(id, line, problems);
    }

    private static void deleteEmptyDir(Path dir) {
        try {
            Files.deleteIfExists(dir);
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
        } while (records.containsKey(id) || Files.exists(files.dir(id)));
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
            for (String id : new ArrayList<>(waiting.keySet())) {
                waiting.remove(id);
                try {
                    update(id, r -> r.ended(BuildState.FAILED, clock.instant(), STOPPED));
                    appendLog(id, "error: " + STOPPED + " while the build was queued");
                } catch (RuntimeException e) {
                    problems.accept("build " + id + ": " + e.getMessage());
                }
                files.removeTransient(id);
            }
            toCancel = List.copyOf(running.values());
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
