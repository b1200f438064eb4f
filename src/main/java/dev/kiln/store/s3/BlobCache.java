package dev.kiln.store.s3;

import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.store.FsFiles;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Verified copies of hot blobs on this replica's disk, least recently used first out beyond a byte
 * budget. A file used within the last minute is never evicted: a zero-copy send may be about to open it.
 */
final class BlobCache {
    private static final Duration IN_USE = Duration.ofMinutes(1);

    private final Path dir;
    private final Path tmp;
    private final long budget;
    private final AtomicLong used = new AtomicLong();

    BlobCache(Path localDir, long budget) throws IOException {
        this.dir = FsFiles.createDirectories(localDir.resolve("blob-cache"));
        this.tmp = FsFiles.createDirectories(localDir.resolve("tmp"));
        this.budget = budget;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path file : files) {
                used.addAndGet(Files.size(file));
            }
        }
    }

    /** A budget of 0 turns caching of served and written blobs off; files the builder asks for are still kept briefly. */
    boolean enabled() {
        return budget > 0;
    }

    Path tmpDir() {
        return tmp;
    }

    Path newTempFile() {
        return tmp.resolve(UUID.randomUUID().toString());
    }

    private Path pathOf(Digest digest) {
        return dir.resolve(digest.algorithm() + "-" + digest.hex());
    }

    /** The cached copy, marked as just used. */
    Optional<Path> get(Digest digest) {
        Path path = pathOf(digest);
        try {
            Files.setLastModifiedTime(path, FileTime.from(Instant.now()));
            return Optional.of(path);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Takes a temp file whose content is verified to be {@code digest} into the cache; returns where it is. */
    Path adopt(Path verified, Digest digest) throws IOException {
        Path target = pathOf(digest);
        long size = Files.size(verified);
        FsFiles.moveAtomically(verified, target);
        used.addAndGet(size);
        evict();
        return target;
    }

    void remove(Digest digest) {
        Path path = pathOf(digest);
        try {
            long size = Files.size(path);
            if (Files.deleteIfExists(path)) {
                used.addAndGet(-size);
            }
        } catch (IOException ignored) {
            // not cached
        }
    }

    private synchronized void evict() {
        if (used.get() <= budget) {
            return;
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            entries.forEach(files::add);
        } catch (IOException e) {
            return;
        }
        Instant inUse = Instant.now().minus(IN_USE);
        files.sort(Comparator.comparing(BlobCache::lastModified));
        for (Path file : files) {
            if (used.get() <= budget || !lastModified(file).isBefore(inUse)) {
                return;
            }
            try {
                long size = Files.size(file);
                Files.delete(file);
                used.addAndGet(-size);
            } catch (NoSuchFileException ignored) {
                // removed meanwhile
            } catch (IOException ignored) {
                return;
            }
        }
    }

    private static Instant lastModified(Path file) {
        try {
            return Files.getLastModifiedTime(file).toInstant();
        } catch (IOException e) {
            return Instant.MAX;
        }
    }

    long used() {
        return used.get();
    }

    /**
     * Passes {@code in} through, keeping a copy that enters the cache when the stream ends with exactly
     * {@code size} bytes hashing to {@code digest}; anything else (a client that stops early, a short or
     * corrupt object) leaves nothing behind.
     */
    InputStream tee(InputStream in, Digest digest, long size) throws IOException {
        if (!enabled()) {
            return in;
        }
        Path temp = newTempFile();
        OutputStream copy = Files.newOutputStream(FsFiles.createFile(temp), StandardOpenOption.WRITE);
        Digester digester = Digester.like(digest);
        return new FilterInputStream(in) {
            private boolean done;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] buffer, int offset, int length) throws IOException {
                int n = super.read(buffer, offset, length);
                if (n > 0 && !done) {
                    copy.write(buffer, offset, n);
                    digester.update(buffer, offset, n);
                } else if (n < 0 && !done) {
                    finish();
                }
                return n;
            }

            private void finish() throws IOException {
                done = true;
                copy.close();
                if (digester.length() == size && digester.digest().equals(digest)) {
                    adopt(temp, digest);
                } else {
                    Files.deleteIfExists(temp);
                }
            }

            @Override
            public void close() throws IOException {
                try {
                    super.close();
                } finally {
                    if (!done) {
                        done = true;
                        copy.close();
                        Files.deleteIfExists(temp);
                    }
                }
            }
        };
    }
}
