package dev.kiln.registry.spec;

public final class Headers {
    public static final String API_VERSION = "Docker-Distribution-API-Version";
    public static final String API_VERSION_VALUE = "registry/2.0";
    public static final String CONTENT_DIGEST = "Docker-Content-Digest";
    public static final String UPLOAD_UUID = "Docker-Upload-UUID";
    public static final String CHUNK_MIN_LENGTH = "OCI-Chunk-Min-Length";
    public static final String SUBJECT = "OCI-Subject";
    public static final String FILTERS_APPLIED = "OCI-Filters-Applied";

    private Headers() {
    }
}
