package dev.kiln.builder.layers;

import dev.kiln.builder.rootfs.Trees;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The layer store's {@code tmp/}: work directories each under a lock of its own, so that a store
 * opening in another process while one is in use cleans only what a crashed build left.
 */
final class TmpDirs {
    private TmpDirs() {
    }

    /** Work on a directory of its own in {@code tmp/}. */
    @FunctionalInterface
    interface Work<T> {
        T in(Path dir) throws IOException;
    }

    /**
     * Runs {@code work} on a new directory {@code tmp/<id>} under a lock of its own, so a store
     * opening meanwhile ({@link #cleanTmp}) leaves it alone; what is left of it afterwards is deleted.
     */
    static <T> T inLocked(Path tmp, String id, Work<T> work) throws IOException {
        Path lockFile = tmp.resolve(id + ".lock");
        try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             FileLock ignored = channel.lock()) {
            Path dir = Files.createDirectory(tmp.resolve(id));
            try {
                return work.in(dir);
            } finally {
                Trees.deleteQuietly(dir);
            }
        } finally {
            Files.deleteIfExists(lockFile);
        }
    }

    /** What a crashed unpack or eviction left in {@code tmp/}: anything whose lock nobody holds. */
    static void clean(Path tmp) throws IOException {
        for (Path entry : LayerStore.list(tmp)) {
            String name = entry.getFileName().toString();
            if (name.endsWith(".lock")) {
                continue;
            }
            Path lockFile = tmp.resolve(name + ".lock");
            if (!Files.exists(lockFile)) {
                Trees.deleteQuietly(entry);
                continue;
            }
            try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.WRITE);
                 FileLock lock = LayerLeases.tryLock(channel, false)) {
                if (lock != null) {
                    Trees.deleteQuietly(entry);
                    Files.deleteIfExists(lockFile);
                }
            } catch (IOException e) {
                // gone meanwhile: its owner finished
            }
        }
        for (Path entry : LayerStore.list(tmp)) {
            String name = entry.getFileName().toString();
            if (name.endsWith(".lock") && !Files.exists(tmp.resolve(name.substring(0, name.length() - 5)))) {
                try (FileChannel channel = FileChannel.open(entry, StandardOpenOption.WRITE);
                     FileLock lock = LayerLeases.tryLock(channel, false)) {
                    if (lock != null) {
                        Files.deleteIfExists(entry);
                    }
                } catch (IOException e) {
                    // gone meanwhile
                }
            }
        }
    }
}
