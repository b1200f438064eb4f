package dev.kiln.oci;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/** An OCI content descriptor; optional fields are null when absent so they serialise away. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Descriptor(
        String mediaType,
        String digest,
        long size,
        String artifactType,
        Map<String, String> annotations,
        List<String> urls,
        Platform platform) {

    public Descriptor(String mediaType, Digest digest, long size) {
        this(mediaType, digest.toString(), size, null, null, null, null);
    }

    public Digest parsedDigest() {
        return Digest.parse(digest);
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Platform(String architecture, String os, String variant,
                           @com.fasterxml.jackson.annotation.JsonProperty("os.version") String osVersion,
                           @com.fasterxml.jackson.annotation.JsonProperty("os.features") List<String> osFeatures) {
    }
}
