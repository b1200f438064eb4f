package dev.kiln.builder.cache;

/** Which steps' layers the cache serves and keeps (kaniko's --cache-run-layers, --cache-copy-layers). */
public record CachePolicy(boolean runLayers, boolean copyLayers) {
    public static final CachePolicy ALL = new CachePolicy(true, true);
}
