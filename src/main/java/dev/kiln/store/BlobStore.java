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

    /**
     * How to send {@code length} bytes of the blob from {@code offset} to a client: a local file region
     * (zero copy), a stream, or a redirect. Throws {@link BlobNotFoundException} when absent.
     */
    BlobBody body(Digest digest, long offset, long length) throws IOException;

    /**
     * The blob as a local file, for readers in this process that need one (the builder unpacking a base
     * layer): the blob itself on the filesystem, a verified copy in the local cache for an object store.
     * Nobody may write to it. Throws {@link BlobNotFoundException} when absent.
     */
    Path readableFile(Digest digest) throws IOException;

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

    /**
     * Garbage collection's first, reversible step: moves the blob out of sight unless it was written or
     * touched at or after {@code cutoff}; returns whether it moved. A retired blob reads as absent and
     * cannot be touched, so a push that still wants it fails rather than being acknowledged;
     * {@link #restore} brings it back, {@link #purge} deletes it for good.
     */
    boolean retire(Digest digest, java.time.Instant cutoff) throws IOException;

    /** Puts a retired blob back (a blob pushed again meanwhile is kept as it is). */
    void restore(Digest digest) throws IOException;

    /** Deletes a retired blob for good. */
    void purge(Digest digest) throws IOException;

    /** Blobs retired and neither restored nor purged: what a collection that died midway left. */
    java.util.List<Digest> retired() throws IOException;

    /** Marks the blob as just used, so that garbage collection's grace period protects it. */
    void touch(Digest digest) throws IOException;

    /**
     * {@link #touch} for a read of a blob just {@code seen} by {@link #stat}: a hint for least-recently-used
     * eviction, which a store may skip where touching costs more than the precision is worth.
     */
    default void touchRead(BlobInfo seen) throws IOException {
        touch(seen.digest());
    }

    void forEach(Consumer<BlobInfo> action) throws IOException;

    /** Moves a blob that failed verification out of sight, keeping its bytes for inspection. */
    void quarantine(Digest digest) throws IOException;

    /** Removes what writers that died with their process left behind, older than {@code age}; returns how many. */
    int removeStaleTempFiles(java.time.Duration age) throws IOException;

    /**
     * {@code in}, the bytes of {@code digest} this process relays from elsewhere (the replica that owns
     * the digest), passed through. A store with a local hot-blob cache keeps a copy once all
     * {@code size} bytes have arrived and hash to {@code digest}, never before; the default keeps nothing.
     */
    default InputStream keepingRelayedCopy(InputStream in, Digest digest, long size) throws IOException {
        return in;
    }

    /** Reads a small blob (a manifest, a config) whole; refuses one larger than {@code limit} bytes. */
    default byte[] readAll(Digest digest, int limit) throws IOException {
        try (InputStream in = open(digest, 0)) {
            byte[] bytes = in.readNBytes(limit + 1);
            if (bytes.length > limit) {
                throw new IOException("blob " + digest + " is larger than " + limit + " bytes");
            }
            return bytes;
        }
    }
}
