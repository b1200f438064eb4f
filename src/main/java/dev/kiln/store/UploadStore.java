package dev.kiln.store;

import dev.kiln.oci.Digest;
import dev.kiln.oci.RepositoryName;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;

/** Resumable upload sessions: bytes arrive in order, in one or many requests, then become a blob. */
public interface UploadStore {
    UploadSession create(RepositoryName repository) throws IOException;

    Optional<UploadSession> find(String id) throws IOException;

    /**
     * Appends {@code data} at {@code expectedOffset} (or at the end when negative). Throws
     * {@link UploadOffsetException} when the offset is not where the session stands. On a write failure
     * the session is discarded, so no half-written chunk can later be committed.
     */
    UploadSession append(String id, InputStream data, long expectedOffset) throws IOException;

    /** Verifies the session's content against {@code expected} and moves it into the blob store. */
    Digest commit(String id, Digest expected) throws IOException;

    boolean cancel(String id) throws IOException;

    List<UploadSession> list() throws IOException;

    /** Removes sessions (and remains of half-created ones) not written to since {@code before}. */
    int expire(java.time.Instant before) throws IOException;
}
