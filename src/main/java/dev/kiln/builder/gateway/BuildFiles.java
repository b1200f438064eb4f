package dev.kiln.builder.gateway;

import dev.kiln.builder.rootfs.Trees;
import dev.kiln.store.FsFiles;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import dev.kiln.store.BuildArchive;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The gateway's builds on disk, under {@code <store>/builds/}: per build a directory
 * {@code <id>/} holding {@code build.json} (the record, replaced atomically), {@code build.log}
 * (appended while the build runs), and while it waits or runs the uploaded {@code context.tar},
 * a {@code work/} directory and, for a build running elsewhere, {@code context.token}. Uploads land in {@code .incoming/} until they are accepted, so a
 * refused upload leaves nothing behind in a build directory. Pruned builds pass through {@code .trash/}.
 */
public final class BuildFiles {
    private static final Pattern ID = Pattern.compile("[0-9a-f]{20}");
    private static final int SHIP_CHUNK = 1024 * 1024;

    private final Path root;
    private final BuildArchive shared;
    private final Map<String, Long> shipped = new ConcurrentHashMap<>();
    private final Set<String> open = ConcurrentHashMap.newKeySet();
    /** The state in the last saved record of each build that has not ended. */
    private final Map<String, BuildState> savedStates = new ConcurrentHashMap<>();

    public BuildFiles(Path storeRoot) throws IOException {
        this(storeRoot, null);
    }

    /**
     * @param shared where every replica of the store reads builds (an object store's {@link BuildArchive});
     *               null when this directory is that place already. Records are copied there on every
     *               save, and logs in chunks: on every save, every line the service writes, and each
     *               second while the build runs.
     */
    public BuildFiles(Path storeRoot, BuildArchive shared) throws IOException {
        this.root = storeRoot.resolve("builds");
        this.shared = shared;
        FsFiles.createDirectories(incoming());
        if (shared != null) {
            ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(task -> {
                Thread t = new Thread(task, "kiln-build-log-shipper");
                t.setDaemon(true);
                return t;
            });
            timer.scheduleWithFixedDelay(() -> open.forEach(this::shipQuietly), 1, 1, TimeUnit.SECONDS);
        }
    }

    public Path root() {
        return root;
    }

    /** Whether {@code id} has the shape of a build id, so that it is safe to use in a path. */
    public static boolean isId(String id) {
        return id != null && ID.matcher(id).matches();
    }

    public Path dir(String id) {
        if (!isId(id)) {
            throw new IllegalArgumentException("not a build id: " + id);
        }
        return root.resolve(id);
    }

    public Path record(String id) {
        return dir(id).resolve("build.json");
    }

    public Path log(String id) {
        return dir(id).resolve("build.log");
    }

    public Path context(String id) {
        return dir(id).resolve("context.tar");
    }

    /** The SHA-256 of the one-time token that opens the context to a build running elsewhere ({@link ContextTokens}). */
    public Path contextToken(String id) {
        return dir(id).resolve("context.token");
    }

    public Path work(String id) {
        return dir(id).resolve("work");
    }

    public Path incoming() {
        return root.resolve(".incoming");
    }

    public void save(BuildRecord record) throws IOException {
        FsFiles.createDirectories(dir(record.id()));
        byte[] bytes = record.toBytes();
        // a running build's record changes at every step, and a crash marks it failed at the next
        // start whatever step it had reached: only a change of state must be on disk before anyone
        // is told (two fsyncs per step were most of a cached build's time)
        BuildState before = record.state().ended() ? savedStates.remove(record.id()) : savedStates.put(record.id(), record.state());
        FsFiles.atomicWrite(record(record.id()), bytes, before != record.state() || record.state().ended());
        if (shared != null) {
            ship(record.id()); // the log first: a reader that sees the build ended finds its whole log
            shared.saveRecord(record.id(), bytes);
            if (record.state().ended()) {
                open.remove(record.id());
            } else {
                open.add(record.id());
            }
        }
    }

    /** Appends a line the service itself writes (queued, cancelled, restarted) to the build's log. */
    void appendLine(String id, String line, Consumer<String> problems) {
        try {
            FsFiles.createDirectories(dir(id));
            if (!Files.exists(log(id))) {
                FsFiles.createFile(log(id));
            }
            Files.writeString(log(id), line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            if (shared != null) {
                ship(id);
            }
        } catch (IOException e) {
            problems.accept("build " + id + ": cannot write its log: " + e.getMessage());
        }
    }

    /** Copies what the log gained since the last time to the shared archive. */
    synchronized void ship(String id) throws IOException {
        long from = shipped.getOrDefault(id, 0L);
        try (FileChannel channel = FileChannel.open(log(id), StandardOpenOption.READ)) {
            long size = channel.size();
            while (from < size) {
                ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(SHIP_CHUNK, size - from));
                while (buffer.hasRemaining() && channel.read(buffer, from + buffer.position()) > 0) {
                    // fill it
                }
                shared.appendLog(id, from, Arrays.copyOf(buffer.array(), buffer.position()));
                from += buffer.position();
                shipped.put(id, from);
            }
        } catch (NoSuchFileException e) {
            // no log yet
        }
    }

    private void shipQuietly(String id) {
        try {
            ship(id);
        } catch (IOException | RuntimeException e) {
            // tried again in a second, and on the next save
        }
    }

    /**
     * A build another replica runs, from the shared archive, with its log copied so far into
     * {@link #remoteLog}; empty when there is no archive or it has no such build.
     */
    public Optional<BuildRecord> remote(String id) throws IOException {
        if (shared == null || !isId(id)) {
            return Optional.empty();
        }
        Optional<byte[]> bytes = shared.record(id);
        if (bytes.isEmpty()) {
            Files.deleteIfExists(remoteLog(id)); // its owner pruned it: the copy goes with it
            return Optional.empty();
        }
        BuildRecord record = BuildRecord.parse(bytes.get());
        Path copy = remoteLog(id);
        FsFiles.createDirectories(copy.getParent());
        synchronized (this) {
            try (FileChannel channel = FileChannel.open(copy, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                for (byte[] more; (more = shared.readLog(id, channel.size(), SHIP_CHUNK)).length > 0; ) {
                    channel.write(ByteBuffer.wrap(more), channel.size());
                }
            }
        }
        return Optional.of(record);
    }

    /** This replica's copy of the log of a build another one runs; outside any build's directory, so recovery never takes it for its own. */
    public Path remoteLog(String id) {
        return root.resolve(".remote").resolve(dir(id).getFileName() + ".log");
    }

    /**
     * Moves an accepted upload into its build's directory. Not made durable: after a crash the build
     * ends failed and its context is removed, whether or not the move reached the disk.
     */
    public void adoptContext(String id, Path upload) throws IOException {
        FsFiles.createDirectories(dir(id));
        FsFiles.renameAtomically(upload, context(id));
    }

    /** Removes what only a waiting or running build needs: the uploaded context and the work directory. */
    public void removeTransient(String id) {
        try {
            Files.deleteIfExists(context(id));
            Files.deleteIfExists(contextToken(id));
        } catch (IOException ignored) {
            // removed again at the next start
        }
        Trees.deleteQuietly(work(id));
    }

    /** Every readable record; unreadable ones are reported to {@code problems} and skipped. */
    public List<BuildRecord> loadAll(Consumer<String> problems) throws IOException {
        List<BuildRecord> records = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root)) {
            for (Path dir : dirs) {
                String id = dir.getFileName().toString();
                if (!isId(id)) {
                    continue;
                }
                Path file = record(id);
                try {
                    records.add(BuildRecord.parse(Files.readAllBytes(file)));
                } catch (IOException | RuntimeException e) {
                    problems.accept("skipping build " + id + ": cannot read " + file + ": " + e.getMessage());
                }
            }
        }
        return records;
    }

    /** Where pruned builds pass on their way out ({@link #remove}). */
    Path trash() {
        return root.resolve(".trash");
    }

    /**
     * Lets go of a finished build: its copy in the shared archive first, so that no replica answers
     * for it any more, then its directory, renamed out of the builds in one step and deleted there.
     * A crash midway leaves the whole build (pruned again at the next start) or nothing anyone reads:
     * {@link #loadAll} never looks into {@code .trash/}, and {@link #clearLeftovers} empties it.
     */
    void remove(String id) throws IOException {
        if (shared != null) {
            shared.delete(id);
        }
        shipped.remove(id);
        open.remove(id);
        savedStates.remove(id);
        Trees.deleteQuietly(moveToTrash(id));
    }

    /** The step of {@link #remove} after which the build is gone for good, crash or not; the path it moved to. */
    Path moveToTrash(String id) throws IOException {
        Path trashed = trash().resolve(dir(id).getFileName());
        Trees.deleteQuietly(trashed); // an earlier prune of the same id cut short; renaming onto it would fail
        FsFiles.createDirectories(trash());
        try {
            FsFiles.renameAtomically(dir(id), trashed);
        } catch (NoSuchFileException e) {
            // removed already
        }
        return trashed;
    }

    /** Empties {@code .incoming/} and {@code .trash/}: uploads and prunes a crash or a stop cut short. */
    public void clearLeftovers() {
        clearIncoming();
        Trees.deleteQuietly(trash());
    }

    /**
     * Deletes this replica's copies of other replicas' logs ({@link #remoteLog}) not written for
     * {@code age}: their builds are pruned by the replicas that own them, or will be soon.
     */
    void removeRemoteCopies(java.time.Duration age, Consumer<String> problems) {
        Path remote = root.resolve(".remote");
        try {
            if (Files.isDirectory(remote)) {
                FsFiles.deleteFilesOlderThan(remote, age);
            }
        } catch (IOException e) {
            problems.accept("cannot prune the copies of other replicas' logs in " + remote + ": " + e.getMessage());
        }
    }

    /** Empties {@code .incoming/}: uploads cut short by a crash or a stop. */
    public void clearIncoming() {
        Trees.deleteQuietly(incoming());
        try {
            FsFiles.createDirectories(incoming());
        } catch (IOException ignored) {
            // created again with the next upload
        }
    }
}
