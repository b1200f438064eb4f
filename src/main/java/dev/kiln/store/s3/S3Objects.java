package dev.kiln.store.s3;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.MetadataDirective;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

/**
 * The few object operations the store needs, on keys relative to the store's prefix. Every SDK failure
 * becomes an IOException, as a file system's would, so callers handle one kind of trouble.
 */
final class S3Objects {
    /** S3's smallest part (all but the last); 5 MiB. */
    static final long MIN_PART = 5L * 1024 * 1024;
    /** Parts of whole-file uploads and server-side copies; S3 allows 5 GiB, smaller parts retry cheaper. */
    static final long PART = 256L * 1024 * 1024;
    /** Largest single PUT or CopyObject S3 accepts. */
    static final long MAX_SINGLE = 5L * 1024 * 1024 * 1024;

    record Meta(String key, long size, Instant lastModified) {
    }

    private final S3Client client;
    private final S3Presigner presigner;
    private final String bucket;
    private final String prefix;

    S3Objects(S3Client client, S3Presigner presigner, String bucket, String prefix) {
        this.client = client;
        this.presigner = presigner;
        this.bucket = bucket;
        this.prefix = prefix;
    }

    String bucket() {
        return bucket;
    }

    private String key(String relative) {
        return prefix + relative;
    }

    static boolean notFound(S3Exception e) {
        return e.statusCode() == 404;
    }

    private static IOException failure(String what, String relative, SdkException e) {
        return new IOException("object store: " + what + " " + relative + " failed: " + e.getMessage(), e);
    }

    Optional<Meta> head(String relative) throws IOException {
        try {
            HeadObjectResponse head = client.headObject(b -> b.bucket(bucket).key(key(relative)));
            return Optional.of(new Meta(relative, head.contentLength(), head.lastModified()));
        } catch (S3Exception e) {
            if (notFound(e)) {
                return Optional.empty();
            }
            throw failure("HEAD", relative, e);
        } catch (SdkException e) {
            throw failure("HEAD", relative, e);
        }
    }

    /** The object's bytes from {@code offset}; {@link FileNotFoundException} when it does not exist. */
    InputStream get(String relative, long offset) throws IOException {
        try {
            return client.getObject(b -> {
                b.bucket(bucket).key(key(relative));
                if (offset > 0) {
                    b.range("bytes=" + offset + "-");
                }
            }, ResponseTransformer.toInputStream());
        } catch (S3Exception e) {
            if (notFound(e)) {
                throw new FileNotFoundException(relative);
            }
            if (e.statusCode() == 416) {
                return InputStream.nullInputStream(); // from the very end: nothing left
            }
            throw failure("GET", relative, e);
        } catch (SdkException e) {
            throw failure("GET", relative, e);
        }
    }

    /** A small object whole (metadata: a tag, a link), with when it was last written. */
    Optional<byte[]> getBytes(String relative) throws IOException {
        try (InputStream in = get(relative, 0)) {
            return Optional.of(in.readAllBytes());
        } catch (FileNotFoundException e) {
            return Optional.empty();
        }
    }

    void put(String relative, byte[] bytes) throws IOException {
        try {
            client.putObject(b -> b.bucket(bucket).key(key(relative)), RequestBody.fromBytes(bytes));
        } catch (SdkException e) {
            throw failure("PUT", relative, e);
        }
    }

    /** A small object and its ETag, for a conditional write over exactly this version. */
    record Versioned(byte[] bytes, String etag) {
    }

    Optional<Versioned> getVersioned(String relative) throws IOException {
        try {
            var response = client.getObjectAsBytes(b -> b.bucket(bucket).key(key(relative)));
            return Optional.of(new Versioned(response.asByteArray(), response.response().eTag()));
        } catch (S3Exception e) {
            if (notFound(e)) {
                return Optional.empty();
            }
            throw failure("GET", relative, e);
        } catch (SdkException e) {
            throw failure("GET", relative, e);
        }
    }

    /**
     * A conditional PUT: over the version {@code ifMatch}, or, when it is null, only where no object
     * is. False when the condition failed (412) or lost a race with another conditional write (409).
     */
    boolean putIf(String relative, byte[] bytes, String ifMatch) throws IOException {
        try {
            client.putObject(b -> {
                b.bucket(bucket).key(key(relative));
                if (ifMatch == null) {
                    b.ifNoneMatch("*");
                } else {
                    b.ifMatch(ifMatch);
                }
            }, RequestBody.fromBytes(bytes));
            return true;
        } catch (S3Exception e) {
            if (e.statusCode() == 412 || e.statusCode() == 409 || (ifMatch != null && notFound(e))) {
                return false;
            }
            throw failure("conditional PUT", relative, e);
        } catch (SdkException e) {
            throw failure("conditional PUT", relative, e);
        }
    }

    /** Deletes the object only while it is the version {@code etag}. */
    boolean deleteIf(String relative, String etag) throws IOException {
        try {
            client.deleteObject(b -> b.bucket(bucket).key(key(relative)).ifMatch(etag));
            return true;
        } catch (S3Exception e) {
            if (e.statusCode() == 412 || e.statusCode() == 409 || notFound(e)) {
                return false;
            }
            throw failure("conditional DELETE", relative, e);
        } catch (SdkException e) {
            throw failure("conditional DELETE", relative, e);
        }
    }

    /** Uploads a local file, in parts when it is too large for one PUT; the object appears whole or not at all. */
    void putFile(String relative, Path file, long size) throws IOException {
        try {
            if (size <= 2 * PART) {
                client.putObject(b -> b.bucket(bucket).key(key(relative)).contentLength(size), RequestBody.fromFile(file));
                return;
            }
            String uploadId = startMultipart(relative);
            try {
                List<CompletedPart> parts = new ArrayList<>();
                for (long offset = 0; offset < size; offset += PART) {
                    parts.add(uploadPart(relative, uploadId, parts.size() + 1, file, offset, Math.min(PART, size - offset)));
                }
                completeMultipart(relative, uploadId, parts);
            } catch (IOException | RuntimeException e) {
                abortMultipart(relative, uploadId);
                throw e;
            }
        } catch (SdkException e) {
            throw failure("PUT", relative, e);
        }
    }

    String startMultipart(String relative) throws IOException {
        try {
            return client.createMultipartUpload(b -> b.bucket(bucket).key(key(relative))).uploadId();
        } catch (SdkException e) {
            throw failure("starting a multipart upload of", relative, e);
        }
    }

    /** {@code length} bytes of {@code file} from {@code offset}, reopened whenever the SDK retries. */
    private static RequestBody region(Path file, long offset, long length) {
        ContentStreamProvider content = () -> {
            try {
                FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
                channel.position(offset);
                return new BoundedInputStream(Channels.newInputStream(channel), length);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        return RequestBody.fromContentProvider(content, length, "application/octet-stream");
    }

    /** One PUT of part of a file (at most {@link #MAX_SINGLE} bytes). */
    void putRegion(String relative, Path file, long offset, long length) throws IOException {
        try {
            client.putObject(b -> b.bucket(bucket).key(key(relative)).contentLength(length), region(file, offset, length));
        } catch (SdkException e) {
            throw failure("PUT", relative, e);
        }
    }

    /** Uploads {@code length} bytes of {@code file} from {@code offset} as part {@code number}. */
    CompletedPart uploadPart(String relative, String uploadId, int number, Path file, long offset, long length) throws IOException {
        try {
            String etag = client.uploadPart(b -> b.bucket(bucket).key(key(relative)).uploadId(uploadId).partNumber(number)
                    .contentLength(length), region(file, offset, length)).eTag();
            return CompletedPart.builder().partNumber(number).eTag(etag).build();
        } catch (SdkException e) {
            throw failure("uploading part " + number + " of", relative, e);
        }
    }

    void completeMultipart(String relative, String uploadId, List<CompletedPart> parts) throws IOException {
        try {
            client.completeMultipartUpload(b -> b.bucket(bucket).key(key(relative)).uploadId(uploadId)
                    .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build()));
        } catch (SdkException e) {
            throw failure("completing the multipart upload of", relative, e);
        }
    }

    void abortMultipart(String relative, String uploadId) {
        try {
            client.abortMultipartUpload(b -> b.bucket(bucket).key(key(relative)).uploadId(uploadId));
        } catch (SdkException ignored) {
            // already gone; an expiry sweep aborts what is left anyway
        }
    }

    /** Multipart uploads under {@code relativePrefix} started before {@code before}: leftovers of dead replicas. */
    List<MultipartUpload> multipartsStartedBefore(String relativePrefix, Instant before) throws IOException {
        try {
            List<MultipartUpload> old = new ArrayList<>();
            client.listMultipartUploadsPaginator(b -> b.bucket(bucket).prefix(key(relativePrefix))).uploads().forEach(upload -> {
                if (upload.initiated() != null && upload.initiated().isBefore(before)) {
                    old.add(upload.toBuilder().key(upload.key().substring(prefix.length())).build());
                }
            });
            return old;
        } catch (SdkException e) {
            throw failure("listing multipart uploads under", relativePrefix, e);
        }
    }

    /** Server-side copy; in parts beyond what one CopyObject takes. */
    void copy(String from, String to, long size) throws IOException {
        try {
            if (size <= MAX_SINGLE) {
                client.copyObject(b -> b.sourceBucket(bucket).sourceKey(key(from)).destinationBucket(bucket).destinationKey(key(to)));
                return;
            }
            String uploadId = startMultipart(to);
            try {
                List<CompletedPart> parts = new ArrayList<>();
                for (long offset = 0; offset < size; offset += PART) {
                    long start = offset;
                    long end = Math.min(size, offset + PART) - 1;
                    int number = parts.size() + 1;
                    String etag = client.uploadPartCopy(b -> b.sourceBucket(bucket).sourceKey(key(from)).destinationBucket(bucket)
                            .destinationKey(key(to)).uploadId(uploadId).partNumber(number).copySourceRange("bytes=" + start + "-" + end))
                            .copyPartResult().eTag();
                    parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
                }
                completeMultipart(to, uploadId, parts);
            } catch (IOException | RuntimeException e) {
                abortMultipart(to, uploadId);
                throw e;
            }
        } catch (S3Exception e) {
            if (notFound(e)) {
                throw new FileNotFoundException(from);
            }
            throw failure("copying to " + to + " from", from, e);
        } catch (SdkException e) {
            throw failure("copying to " + to + " from", from, e);
        }
    }

    /**
     * Gives the object a new last-modified time: S3 cannot set one, so it is copied onto itself with
     * fresh metadata (server-side, no bytes travel). Garbage collection's grace period reads that time.
     */
    void touch(String relative) throws IOException {
        try {
            client.copyObject(b -> b.sourceBucket(bucket).sourceKey(key(relative)).destinationBucket(bucket).destinationKey(key(relative))
                    .metadataDirective(MetadataDirective.REPLACE).metadata(java.util.Map.of("kiln-touched", Instant.now().toString())));
        } catch (S3Exception e) {
            if (notFound(e)) {
                throw new FileNotFoundException(relative);
            }
            throw failure("touching", relative, e);
        } catch (SdkException e) {
            throw failure("touching", relative, e);
        }
    }

    /** Deletes the object; returns whether it was there (S3's DELETE itself does not say). */
    boolean delete(String relative) throws IOException {
        if (head(relative).isEmpty()) {
            return false;
        }
        deleteQuietly(relative);
        return true;
    }

    void deleteQuietly(String relative) throws IOException {
        try {
            client.deleteObject(b -> b.bucket(bucket).key(key(relative)));
        } catch (SdkException e) {
            throw failure("DELETE", relative, e);
        }
    }

    /** Every object under {@code relativePrefix}, keys relative to the store's prefix, in key order. */
    void list(String relativePrefix, Consumer<Meta> action) throws IOException {
        try {
            for (S3Object object : client.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(key(relativePrefix))).contents()) {
                action.accept(new Meta(object.key().substring(prefix.length()), object.size(), object.lastModified()));
            }
        } catch (SdkException e) {
            throw failure("listing", relativePrefix, e);
        }
    }

    /** A URL anyone holding it may GET the object from until it expires. */
    String presign(String relative, Duration validFor) {
        return presigner.presignGetObject(b -> b.signatureDuration(validFor).getObjectRequest(g -> g.bucket(bucket).key(key(relative))))
                .url().toString();
    }

    /** An InputStream that ends after {@code limit} bytes of another. */
    static final class BoundedInputStream extends java.io.FilterInputStream {
        private long remaining;

        BoundedInputStream(InputStream in, long limit) {
            super(in);
            this.remaining = limit;
        }

        @Override
        public int read() throws IOException {
            if (remaining <= 0) {
                return -1;
            }
            int b = super.read();
            if (b >= 0) {
                remaining--;
            }
            return b;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            if (remaining <= 0) {
                return -1;
            }
            int n = super.read(buffer, offset, (int) Math.min(length, remaining));
            if (n > 0) {
                remaining -= n;
            }
            return n;
        }
    }
}
