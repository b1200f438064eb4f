package dev.kiln.store;

import dev.kiln.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Immutable blobs by digest, shared by every repository and upstream. A blob is visible only once its
 * content has been verified against its digest.
 */
public interface BlobStore {
    Optional<BlobInfo> stat(Digest digest) throws IOException;

    default boolean exists(Digest digest) throws IOException {
        return stat(digest).isPresent();
    }

    /** Streams the blob from {@code offset}; throws {@link BlobNotFoundException} when absent. */
    InputStream open(Digest digest, long offset) throws IOException;

    /** The blob as a local file, for zero-copy sending; empty for stores that are not on local disk. */
    Optional<Path> localFile(Digest digest) throws IOException;

    /** A writer for content whose digest is verified (or computed) when it is committed. */
    BlobWriter newWriter() throws IOException;

    /**
     * Makes the content of {@code file} the blob {@code expected} once it is verified; the file itself
     * is left as it was. A blob already present is only touched. Returns whether it was new.
     */
    default boolean insert(Path file, Digest expected) throws IOException {
        if (exists(expected)) {
            touch(expected);
            return false;
        }
        try (BlobWriter writer = newWriter(); InputStream in = java.nio.file.Files.newInputStream(file)) {
            writer.write(in);
            writer.commit(expected);
        }
        return true;
    }

    boolean delete(Digest digest) throws IOException;

    /** Marks the blob as just used, so that garbage collection's grace period protects it. */
    void touch(Digest digest) throws IOException;

    void forEach(Consumer<BlobInfo> action) throws IOException;

    /** Moves a blob that failed verification out of sight, keeping its bytes for inspection. */
    void quarantine(Digest digest) throws IOException;
}
