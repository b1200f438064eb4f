package dev.kiln.store;

import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.InvalidNameException;
import dev.kiln.oci.RepositoryName;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;

/**
 * Upload sessions as {@code uploads/<id>/{data,repository}}. The running sha256 of each session is
 * kept in memory so committing a large upload needs no second read; after a restart it is recomputed
 * from the file on first use.
 */
public final class FsUploadStore implements UploadStore {
    private static final Pattern ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    private final Path uploads;
    private final FsBlobStore blobs;
    private final ConcurrentHashMap<String, Progress> progress = new ConcurrentHashMap<>();

    private static final class Progress {
        final ReentrantLock lock = new ReentrantLock();
        Digester digester;
    }

    public FsUploadStore(Path root, FsBlobStore blobs) throws IOException {
        this.uploads = root.resolve("uploads");
        this.blobs = blobs;
        FsFiles.createDirectories(uploads);
    }

    private Path dir(String id) throws UploadNotFoundException {
        if (id == null || !ID.matcher(id).matches()) {
            throw new UploadNotFoundException(String.valueOf(id));
        }
        return uploads.resolve(id);
    }

    @Override
    public UploadSession create(RepositoryName repository) throws IOException {
        String id = UUID.randomUUID().toString();
        Path dir = uploads.resolve(id);
        FsFiles.createDirectories(dir);
        FsFiles.createFile(dir.resolve("data"));
        FsFiles.atomicWrite(dir.resolve("repository"), repository.value());
        Instant now = Instant.now();
        return new UploadSession(id, repository, now, now, 0);
    }

    @Override
    public Optional<UploadSession> find(String id) throws IOException {
        Path dir;
        try {
            dir = dir(id);
        } catch (UploadNotFoundException e) {
            return Optional.empty();
        }
        Optional<String> repository = FsFiles.readString(dir.resolve("repository"));
        if (repository.isEmpty()) {
            return Optional.empty();
        }
        try {
            Path data = dir.resolve("data");
            return Optional.of(new UploadSession(id, new RepositoryName(repository.get()),
                    Files.getLastModifiedTime(dir.resolve("repository")).toInstant(),
                    Files.getLastModifiedTime(data).toInstant(), Files.size(data)));
        } catch (NoSuchFileException | InvalidNameException e) {
            return Optional.empty();
        }
    }

    private UploadSession require(String id) throws IOException {
        return find(id).orElseThrow(() -> new UploadNotFoundException(id));
    }

    @Override
    public UploadSession append(String id, InputStream data, long expectedOffset) throws IOException {
        Progress p = progress.computeIfAbsent(id, k -> new Progress());
        p.lock.lock();
        try {
            UploadSession session = require(id);
            if (expectedOffset >= 0 && expectedOffset != session.size()) {
                throw new UploadOffsetException(expectedOffset, session.size());
            }
            Path file = dir(id).resolve("data");
            Digester digester = upToDate(p, file, session.size());
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
                copy(data, channel, digester, id);
            }
            return require(id);
        } finally {
            p.lock.unlock();
        }
    }

    /**
     * Copies until the client's stream ends. A failure to read (the client went away) keeps what was
     * written, which the client may resume from; a failure to write (disk full) discards the session.
     */
    private void copy(InputStream in, FileChannel channel, Digester digester, String id) throws IOException {
        byte[] buffer = new byte[FsBlobWriter.BUFFER_SIZE];
        while (true) {
            int n = in.read(buffer);
            if (n < 0) {
                return;
            }
            try {
                ByteBuffer bytes = ByteBuffer.wrap(buffer, 0, n);
                while (bytes.hasRemaining()) {
                    channel.write(bytes);
                }
            } catch (IOException e) {
                discard(id);
                throw new StoreWriteException("could not write upload " + id + ": " + e.getMessage(), e);
            }
            digester.update(buffer, 0, n);
        }
    }

    private static Digester upToDate(Progress p, Path file, long size) throws IOException {
        if (p.digester == null || p.digester.length() != size) {
            Digester digester = Digester.sha256();
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buffer = new byte[FsBlobWriter.BUFFER_SIZE];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    digester.update(buffer, 0, n);
                }
            }
            p.digester = digester;
        }
        return p.digester;
    }

    @Override
    public Digest commit(String id, Digest expected) throws IOException {
        Progress p = progress.computeIfAbsent(id, k -> new Progress());
        p.lock.lock();
        try {
            UploadSession session = require(id);
            Path file = dir(id).resolve("data");
            Digest actual;
            if (expected.algorithm().equals("sha256")) {
                actual = upToDate(p, file, session.size()).digest();
            } else {
                try (InputStream in = Files.newInputStream(file)) {
                    actual = Digester.digest(in, expected.algorithm());
                }
            }
            if (!actual.equals(expected)) {
                discard(id);
                throw new DigestMismatchException(expected, actual, session.size());
            }
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                channel.force(true);
            }
            blobs.adopt(file, actual);
            discard(id);
            return actual;
        } finally {
            p.lock.unlock();
            progress.remove(id, p);
        }
    }

    @Override
    public boolean cancel(String id) throws IOException {
        if (find(id).isEmpty()) {
            return false;
        }
        discard(id);
        return true;
    }

    private void discard(String id) throws IOException {
        progress.remove(id);
        FsFiles.deleteTree(dir(id));
    }

    @Override
    public List<UploadSession> list() throws IOException {
        List<UploadSession> sessions = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(uploads)) {
            for (Path dir : dirs) {
                find(dir.getFileName().toString()).ifPresent(sessions::add);
            }
        }
        sessions.sort(Comparator.comparing(UploadSession::startedAt));
        return sessions;
    }

    @Override
    public int expire(Instant before) throws IOException {
        int removed = 0;
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(uploads)) {
            for (Path dir : dirs) {
                String id = dir.getFileName().toString();
                Progress p = progress.get(id);
                if (p != null && p.lock.isLocked()) {
                    continue; // a request is writing to it right now
                }
                Instant updated;
                try {
                    Path data = dir.resolve("data");
                    updated = Files.getLastModifiedTime(Files.exists(data) ? data : dir).toInstant();
                } catch (NoSuchFileException e) {
                    continue;
                }
                if (updated.isBefore(before)) {
                    progress.remove(id);
                    FsFiles.deleteTree(dir);
                    removed++;
                }
            }
        }
        return removed;
    }
}
