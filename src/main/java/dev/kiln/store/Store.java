package dev.kiln.store;

import java.io.IOException;
import java.nio.file.Path;

/** The content-addressed store: blobs, upload sessions and repository metadata under one root. */
public record Store(Path root, BlobStore blobs, UploadStore uploads, MetadataStore metadata) {

    public static Store openFilesystem(Path root) throws IOException {
        Path absolute = root.toAbsolutePath().normalize();
        FsFiles.createDirectories(absolute);
        FsFiles.makePrivate(absolute); // also a store made before the gateway kept its files private
        FsBlobStore blobs = new FsBlobStore(absolute);
        return new Store(absolute, blobs, new FsUploadStore(absolute, blobs), new FsMetadataStore(absolute));
    }
}
