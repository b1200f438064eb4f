package dev.kiln.store.s3;

import java.net.URI;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where an object store lives and how to talk to it. {@code prefix} is empty or ends with '/'.
 *
 * @param endpoint  an S3-compatible server (MinIO, Ceph RGW, moto); empty for AWS itself
 * @param redirect  answer blob GETs with a 307 to a presigned URL instead of streaming them
 * @param localDir  this replica's own disk: the hot-blob cache and temp files
 * @param cacheBytes budget of the hot-blob cache
 */
public record S3Settings(String bucket, String prefix, Optional<URI> endpoint, String region, boolean pathStyle,
                         boolean redirect, Path localDir, long cacheBytes) {

    public static boolean isS3(String store) {
        return store != null && store.startsWith("s3://");
    }

    /** Splits {@code s3://BUCKET[/PREFIX]}; the rest of the settings come from elsewhere. */
    public static S3Settings parse(String store, Optional<URI> endpoint, String region, boolean pathStyle, boolean redirect,
                                   Path localDir, long cacheBytes) {
        if (!isS3(store)) {
            throw new IllegalArgumentException("not an s3:// store: " + store);
        }
        String rest = store.substring("s3://".length());
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String prefix = slash < 0 ? "" : rest.substring(slash + 1).replaceAll("^/+|/+$", "");
        if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
            throw new IllegalArgumentException("the store " + store + " does not name a valid bucket: give s3://BUCKET[/PREFIX]");
        }
        return new S3Settings(bucket, prefix.isEmpty() ? "" : prefix + "/", endpoint, region, pathStyle, redirect, localDir, cacheBytes);
    }

    public String url() {
        return "s3://" + bucket + "/" + prefix;
    }
}
