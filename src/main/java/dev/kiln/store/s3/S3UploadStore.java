package dev.kiln.store.s3;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.InvalidNameException;
import dev.kiln.oci.RepositoryName;
import dev.kiln.store.DigestMismatchException;
import dev.kiln.store.FsFiles;
import dev.kiln.store.StoreWriteException;
import dev.kiln.store.UploadNotFoundException;
import dev.kiln.store.UploadOffsetException;
import dev.kiln.store.UploadSession;
import dev.kiln.store.UploadStore;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
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
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.MultipartUpload;

/**
 * Upload sessions kept entirely in the bucket, so each chunk of one upload may reach a different
 * replica. A session is {@code uploads/<id>/state} (JSON: the S3 multipart upload and its parts)
 * plus a tail object holding the bytes that do not yet fill S3's 5 MiB minimum part: small PATCHes
 * are spooled to local disk together with that tail and become a part once there is enough.
 * Committing completes the multipart upload into {@code uploads/<id>/data}, verifies it (from the
 * running hash when every chunk came through this replica, else by reading it back) and only then
 * copies it to the blob's key.
 */
public final class S3UploadStore implements UploadStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    private static final long PART_MAX = S3Objects.PART;

    private final S3Objects objects;
    private final S3BlobStore blobs;
    private final BlobCache local;
    private final ConcurrentHashMap<String, Progress> progress = new ConcurrentHashMap<>();

    /** The running hash of the sessions whose every byte passed through this replica. */
    private static final class Progress {
        final ReentrantLock lock = new ReentrantLock();
        Digester digester;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Part(int number, String etag, long size) {
    }

    /** What the bucket knows of a session; {@code tailKey} holds the last {@code size - partsSize} bytes. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record State(String repository, long startedAt, String multipartId, List<Part> parts, long size, String tailKey) {
        long partsSize() {
            return parts.stream().mapToLong(Part::size).sum();
        }
    }

    S3UploadStore(S3Objects objects, S3BlobStore blobs, BlobCache local) {
        this.objects = objects;
        this.blobs = blobs;
        this.local = local;
    }

    private static String dir(String id) throws UploadNotFoundException {
        if (id == null || !ID.matcher(id).matches()) {
            throw new UploadNotFoundException(String.valueOf(id));
        }
        return "uploads/" + id + "/";
    }

    private Optional<State> state(String id) throws IOException {
        Optional<byte[]> bytes = objects.getBytes(dir(id) + "state");
        return bytes.isEmpty() ? Optional.empty() : Optional.of(JSON.readValue(bytes.get(), State.class));
    }

    private void save(String id, State state) throws IOException {
        objects.put(dir(id) + "state", JSON.writeValueAsBytes(state));
    }

    @Override
    public UploadSession create(RepositoryName repository) throws IOException {
        String id = UUID.randomUUID().toString();
        Instant now = Instant.now();
        save(id, new State(repository.value(), now.toEpochMilli(), null, List.of(), 0, null));
        progress.computeIfAbsent(id, k -> new Progress()).digester = Digester.sha256();
        return new UploadSession(id, repository, now, now, 0);
    }

    @Override
    public Optional<UploadSession> find(String id) throws IOException {
        try {
            dir(id);
        } catch (UploadNotFoundException e) {
            return Optional.empty();
        }
        Optional<S3Objects.Meta> meta = objects.head(dir(id) + "state");
        Optional<State> state = meta.isEmpty() ? Optional.empty() : state(id);
        if (state.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(session(id, state.get(), meta.get().lastModified()));
        } catch (InvalidNameException e) {
            return Optional.empty();
        }
    }

    private static UploadSession session(String id, State state, Instant updated) {
        return new UploadSession(id, new RepositoryName(state.repository()), Instant.ofEpochMilli(state.startedAt()), updated, state.size());
    }

    private State require(String id) throws IOException {
        return state(id).orElseThrow(() -> new UploadNotFoundException(id));
    }

    @Override
    public UploadSession append(String id, InputStream data, long expectedOffset) throws IOException {
        Progress p = progress.computeIfAbsent(id, k -> new Progress());
        p.lock.lock();
        try {
            State state = require(id);
            if (expectedOffset >= 0 && expectedOffset != state.size()) {
                throw new UploadOffsetException(expectedOffset, state.size());
            }
            Digester digester = p.digester != null && p.digester.length() == state.size() ? p.digester
                    : state.size() == 0 ? Digester.sha256() : null; // else another replica took earlier chunks: verified by reading back
            Path spool = local.newTempFile();
            try {
                IOException clientGone = spool(id, state, data, spool, digester);
                State saved = flush(id, state, spool);
                p.digester = digester;
                if (clientGone != null) {
                    throw clientGone;
                }
                return session(id, saved, Instant.now());
            } finally {
                Files.deleteIfExists(spool);
            }
        } finally {
            p.lock.unlock();
        }
    }

    /**
     * Writes the session's tail and then the client's bytes to {@code spool}. A failure to read (the
     * client went away) keeps what arrived, which the client may resume from, and is returned; a
     * failure to write (disk full) discards the session.
     */
    private IOException spool(String id, State state, InputStream data, Path spool, Digester digester) throws IOException {
        try (OutputStream out = Files.newOutputStream(FsFiles.createFile(spool), StandardOpenOption.WRITE)) {
            if (state.tailKey() != null) {
                try (InputStream tail = objects.get(state.tailKey(), 0)) {
                    tail.transferTo(out);
                }
            }
            byte[] buffer = new byte[256 * 1024];
            while (true) {
                int n;
                try {
                    n = data.read(buffer);
                } catch (IOException e) {
                    return e;
                }
                if (n < 0) {
                    return null;
                }
                try {
                    out.write(buffer, 0, n);
                } catch (IOException e) {
                    discard(id, state);
                    throw new StoreWriteException("could not write upload " + id + ": " + e.getMessage(), e);
                }
                if (digester != null) {
                    digester.update(buffer, 0, n);
                }
            }
        }
    }

    /** Turns whole parts of the spool into multipart parts, the rest into the new tail, then records it all. */
    private State flush(String id, State state, Path spool) throws IOException {
        long length = Files.size(spool);
        long tailStart = state.partsSize();
        if (length == (state.size() - tailStart)) {
            return state; // nothing arrived
        }
        String multipartId = state.multipartId();
        List<Part> parts = new ArrayList<>(state.parts());
        long offset = 0;
        while (length - offset >= S3Objects.MIN_PART) {
            long size = Math.min(PART_MAX, length - offset);
            if (multipartId == null) {
                multipartId = objects.startMultipart(dir(id) + "data");
            }
            CompletedPart part = objects.uploadPart(dir(id) + "data", multipartId, parts.size() + 1, spool, offset, size);
            parts.add(new Part(part.partNumber(), part.eTag(), size));
            offset += size;
        }
        String tailKey = null;
        if (offset < length) {
            // named by where it starts and how long it is, so a state never points at a tail written for another
            tailKey = dir(id) + "tail-" + (tailStart + offset) + "-" + (length - offset);
            objects.putRegion(tailKey, spool, offset, length - offset);
        }
        State next = new State(state.repository(), state.startedAt(), multipartId, parts, tailStart + length, tailKey);
        save(id, next);
        if (state.tailKey() != null && !state.tailKey().equals(tailKey)) {
            objects.deleteQuietly(state.tailKey());
        }
        return next;
    }

    @Override
    public Digest commit(String id, Digest expected) throws IOException {
        Progress p = progress.computeIfAbsent(id, k -> new Progress());
        p.lock.lock();
        try {
            State state = require(id);
            String data = dir(id) + "data";
            String content;
            if (state.multipartId() != null) {
                List<CompletedPart> parts = new ArrayList<>();
                state.parts().forEach(part -> parts.add(CompletedPart.builder().partNumber(part.number()).eTag(part.etag()).build()));
                if (state.tailKey() != null) {
                    // the last part may be small; S3 has no server-side "append", so the tail travels once more
                    Path spool = local.newTempFile();
                    try {
                        try (InputStream tail = objects.get(state.tailKey(), 0)) {
                            Files.copy(tail, spool);
                        }
                        parts.add(objects.uploadPart(data, state.multipartId(), parts.size() + 1, spool, 0, Files.size(spool)));
                    } finally {
                        Files.deleteIfExists(spool);
                    }
                }
                objects.completeMultipart(data, state.multipartId(), parts);
                content = data;
            } else if (state.tailKey() != null) {
                content = state.tailKey();
            } else {
                objects.put(data, new byte[0]);
                content = data;
            }
            Digest actual = p.digester != null && p.digester.length() == state.size() && expected.algorithm().equals("sha256")
                    ? p.digester.digest()
                    : readBack(content, expected.algorithm());
            if (!actual.equals(expected)) {
                discard(id, state);
                throw new DigestMismatchException(expected, actual, state.size());
            }
            blobs.adoptObject(content, actual, state.size());
            discard(id, state);
            return actual;
        } finally {
            p.lock.unlock();
            progress.remove(id, p);
        }
    }

    private Digest readBack(String key, String algorithm) throws IOException {
        try (InputStream in = objects.get(key, 0)) {
            return Digester.digest(in, algorithm);
        }
    }

    @Override
    public boolean cancel(String id) throws IOException {
        Optional<State> state;
        try {
            state = state(id);
        } catch (UploadNotFoundException e) {
            return false;
        }
        if (state.isEmpty()) {
            return false;
        }
        discard(id, state.get());
        return true;
    }

    private void discard(String id, State state) throws IOException {
        progress.remove(id);
        if (state.multipartId() != null) {
            objects.abortMultipart(dir(id) + "data", state.multipartId());
        }
        List<String> keys = new ArrayList<>();
        objects.list(dir(id), meta -> keys.add(meta.key()));
        keys.sort(Comparator.comparing((String key) -> key.endsWith("/state")).reversed()); // the state first: the session is gone at once
        for (String key : keys) {
            objects.deleteQuietly(key);
        }
    }

    @Override
    public List<UploadSession> list() throws IOException {
        List<String> ids = new ArrayList<>();
        objects.list("uploads/", meta -> {
            String[] parts = meta.key().split("/");
            if (parts.length == 3 && parts[2].equals("state")) {
                ids.add(parts[1]);
            }
        });
        List<UploadSession> sessions = new ArrayList<>();
        for (String id : ids) {
            find(id).ifPresent(sessions::add);
        }
        sessions.sort(Comparator.comparing(UploadSession::startedAt));
        return sessions;
    }

    @Override
    public int expire(Instant before) throws IOException {
        int removed = 0;
        List<S3Objects.Meta> states = new ArrayList<>();
        objects.list("uploads/", meta -> {
            if (meta.key().endsWith("/state")) {
                states.add(meta);
            }
        });
        for (S3Objects.Meta meta : states) {
            String id = meta.key().split("/")[1];
            Progress p = progress.get(id);
            if (p != null && p.lock.isLocked() || !meta.lastModified().isBefore(before)) {
                continue; // written to recently, or right now by this replica
            }
            Optional<State> state;
            try {
                state = state(id);
            } catch (FileNotFoundException e) {
                continue;
            }
            if (state.isPresent()) {
                discard(id, state.get());
                removed++;
            }
        }
        // multipart uploads whose session is gone: a replica died between starting one and recording it
        for (MultipartUpload upload : objects.multipartsStartedBefore("uploads/", before)) {
            String[] parts = upload.key().split("/");
            if (parts.length == 3 && objects.head("uploads/" + parts[1] + "/state").isEmpty()) {
                objects.abortMultipart(upload.key(), upload.uploadId());
            }
        }
        return removed;
    }
}
