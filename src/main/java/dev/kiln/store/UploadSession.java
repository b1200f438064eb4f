package dev.kiln.store;

import dev.kiln.oci.RepositoryName;
import java.time.Instant;

public record UploadSession(String id, RepositoryName repository, Instant startedAt, Instant updatedAt, long size) {
}
