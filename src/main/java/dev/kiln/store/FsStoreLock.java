package dev.kiln.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A store lock as a file {@code locks/<name>} holding its {@link LockRecord}. The read-check-write is
 * made atomic by an OS lock on {@code locks/<name>.mutex} (held for microseconds, released by the
 * kernel if the process dies), and, inside this JVM, by a monitor: the OS lock is per process.
 */
final class FsStoreLock implements StoreLock {
    private static final ConcurrentHashMap<Path, Object> MONITORS = new ConcurrentHashMap<>();

    private final Path file;
    private final Path mutex;
    private final Clock clock;

    FsStoreLock(Path root, String name, Clock clock) {
        this.file = root.resolve("locks").resolve(name);
        this.mutex = root.resolve("locks").resolve(name + ".mutex");
        this.clock = clock;
    }

    @Override
    public boolean acquire(String holder, Duration ttl) throws IOException {
        return exclusively(() -> {
            if (!LockRecord.free(read(), holder, clock.instant())) {
                return false;
            }
            FsFiles.atomicWrite(file, new LockRecord(holder, clock.instant().plus(ttl)).toBytes());
            return true;
        });
    }

    @Override
    public void release(String holder) throws IOException {
        exclusively(() -> {
            LockRecord current = read();
            if (current != null && current.holder().equals(holder)) {
                Files.deleteIfExists(file);
            }
            return true;
        });
    }

    @Override
    public String describe() {
        return file.toString();
    }

    private LockRecord read() throws IOException {
        try {
            return LockRecord.parse(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private interface Step {
        boolean run() throws IOException;
    }

    private boolean exclusively(Step step) throws IOException {
        FsFiles.createDirectories(file.getParent());
        synchronized (MONITORS.computeIfAbsent(mutex.toAbsolutePath().normalize(), p -> new Object())) {
            try (FileChannel channel = FileChannel.open(mutex, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = channel.lock()) {
                return step.run();
            }
        }
    }
}
