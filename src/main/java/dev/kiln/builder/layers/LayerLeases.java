package dev.kiln.builder.layers;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Who uses which kept layer: a build holds a shared file lock on {@code locks/<chain hex>} for
 * each layer it uses, counted per process (file locks are per process, so two builds in one JVM
 * share one), and eviction may remove a layer only under an exclusive lock nobody blocks.
 */
final class LayerLeases {
    private static final System.Logger LOG = System.getLogger(LayerLeases.class.getName());

    private final Path locks;
    private final Map<String, Held> held = new HashMap<>();

    LayerLeases(Path locks) {
        this.locks = locks;
    }

    Path lockFile(String key) {
        return locks.resolve(key);
    }

    void acquire(String key) throws IOException {
        synchronized (held) {
            Held h = held.get(key);
            if (h != null) {
                h.count++;
                return;
            }
            FileChannel channel = FileChannel.open(locks.resolve(key), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.READ);
            try {
                // blocks only while an eviction in another process holds it
                FileLock lock = channel.lock(0, Long.MAX_VALUE, true);
                held.put(key, new Held(channel, lock));
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
        }
    }

    void release(List<String> keys) {
        synchronized (held) {
            for (String key : keys) {
                Held h = held.get(key);
                if (h != null && --h.count == 0) {
                    held.remove(key);
                    try {
                        h.channel.close(); // releases the lock
                    } catch (IOException e) {
                        LOG.log(System.Logger.Level.WARNING, "layer store: closing the lock of " + key + ": " + e);
                    }
                }
            }
        }
    }

    /** Whether a build of this process holds the layer. */
    boolean heldHere(String key) {
        synchronized (held) {
            return held.containsKey(key);
        }
    }

    /** An exclusive (or shared) lock if nobody blocks it now, else null; never waits. */
    static FileLock tryLock(FileChannel channel, boolean shared) throws IOException {
        try {
            return channel.tryLock(0, Long.MAX_VALUE, shared);
        } catch (OverlappingFileLockException e) {
            return null; // this process holds it
        }
    }

    private static final class Held {
        final FileChannel channel;
        final FileLock lock;
        int count = 1;

        Held(FileChannel channel, FileLock lock) {
            this.channel = channel;
            this.lock = lock;
        }
    }
}
