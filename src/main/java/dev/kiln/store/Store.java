package dev.kiln.store;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The content-addressed store: blobs, upload sessions and repository metadata under one root, and
 * the locks its replicas share, and the gateway's build records and logs.
 */
public record Store(Path root, BlobStore blobs, UploadStore uploads, MetadataStore metadata, Locks locks, BuildArchive builds) {

    /** Named {@link StoreLock}s kept in the store itself. */
    public interface Locks {
        StoreLock named(String name);
    }

    /**
     * Opens the store at {@code root}, creating it when missing. A store that cannot be written is
     * refused here, once, rather than by every later push with a 500.
     */
    public static Store openFilesystem(Path root) throws IOException {
        Path absolute = root.toAbsolutePath().normalize();
        try {
            FsFiles.createDirectories(absolute);
            FsFiles.makePrivate(absolute); // also a store made before the gateway kept its files private
            FsBlobStore blobs = new FsBlobStore(absolute);
            Store store = new Store(absolute, blobs, new FsUploadStore(absolute, blobs), new FsMetadataStore(absolute),
                    name -> new FsStoreLock(absolute, name, java.time.Clock.systemUTC()), new FsBuildArchive(absolute));
            Files.delete(Files.createTempFile(absolute.resolve("tmp"), "writable-", ".probe"));
            return store;
        } catch (FileSystemException e) {
            String reason = e.getReason() != null ? e.getReason() : e.getClass().getSimpleName();
            throw new StoreNotUsableException("the store " + absolute + " cannot be written (" + reason
                    + "): give a writable directory with --store or KILN_STORE", e);
        }
    }

    /** Opens a store that must already exist, for commands that only check or clean one (a typo must not make a new, empty store). */
    public static Store openExisting(Path root) throws IOException {
        Path absolute = root.toAbsolutePath().normalize();
        if (!Files.isDirectory(absolute.resolve("blobs"))) {
            throw new StoreNotUsableException("no store at " + absolute + " (no blobs/ directory there): name it with --store or KILN_STORE", null);
        }
        FsBlobStore blobs = new FsBlobStore(absolute);
        return new Store(absolute, blobs, new FsUploadStore(absolute, blobs), new FsMetadataStore(absolute),
                    name -> new FsStoreLock(absolute, name, java.time.Clock.systemUTC()), new FsBuildArchive(absolute));
    }
}
