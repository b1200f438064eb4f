package dev.kiln.app.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.Optional;

/** How to reach the object store when {@code kiln.store} is an {@code s3://BUCKET[/PREFIX]} URL; credentials come from the AWS default chain. */
@ConfigMapping(prefix = "kiln.store.s3")
public interface S3StoreConfig {
    /** An S3-compatible server (MinIO, Ceph RGW); empty for AWS itself. */
    Optional<String> endpoint();

    @WithDefault("us-east-1")
    String region();

    /** {@code http://endpoint/bucket/key} instead of {@code http://bucket.endpoint/key}: what most S3-compatible servers want. */
    @WithDefault("false")
    boolean pathStyle();

    /** Answer blob GETs with a 307 to a presigned URL (the client then downloads from the bucket) instead of streaming them. */
    @WithDefault("false")
    boolean redirect();

    /** This replica's disk: the cache of hot blobs, temp files, build work. */
    @WithDefault("./kiln-local")
    String localDir();

    /** Budget of the hot-blob cache on {@link #localDir()}. */
    @WithDefault("10G")
    String cacheSize();
}
