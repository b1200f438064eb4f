package dev.kiln.oci;

import java.util.List;

public final class MediaTypes {
    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    public static final String OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
    public static final String OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
    public static final String OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
    public static final String OCI_EMPTY = "application/vnd.oci.empty.v1+json";
    public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    public static final String DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    public static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
    public static final String DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public static final String DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    public static final List<String> MANIFESTS = List.of(OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST);

    private MediaTypes() {
    }

    public static boolean isManifest(String mediaType) {
        return MANIFESTS.contains(mediaType);
    }

    public static boolean isIndex(String mediaType) {
        return OCI_INDEX.equals(mediaType) || DOCKER_MANIFEST_LIST.equals(mediaType);
    }

    /** Whether a request whose {@code Accept} lists {@code accepted} takes {@code mediaType}; no Accept takes anything. */
    public static boolean accepts(List<String> accepted, String mediaType) {
        if (accepted == null || accepted.isEmpty()) {
            return true;
        }
        for (String type : accepted) {
            String essence = essence(type);
            if (essence.equals(mediaType) || essence.equals("*/*") || essence.equals("application/*")) {
                return true;
            }
        }
        return false;
    }

    /** Strips parameters such as {@code ; charset=utf-8} that some clients append. */
    public static String essence(String contentType) {
        if (contentType == null) {
            return null;
        }
        int semicolon = contentType.indexOf(';');
        return (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).trim().toLowerCase(java.util.Locale.ROOT);
    }
}
