package dev.kiln.registry.server;

import dev.kiln.oci.RepositoryName;

/** An upload session as the client sees it: where to send the next chunk and how much is there. */
public record UploadState(RepositoryName repository, String id, long size) {
    public String location() {
        return "/v2/" + repository + "/blobs/uploads/" + id;
    }

    /** The {@code Range} header value: the inclusive byte range received so far. */
    public String range() {
        return "0-" + Math.max(0, size - 1);
    }
}
