package dev.kiln.store.s3;

import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.InvalidDigestException;
import dev.kiln.store.BlobBody;
import dev.kiln.store.BlobInfo;
import dev.kiln.store.BlobNotFoundException;
import dev.kiln.store.BlobStore;
import dev.kiln.store.BlobWriter;
import dev.kiln.store.DigestMismatchException;
import dev.kiln.store.FsBlobWriter;
import dev.kiln.store.FsFiles;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Blobs as objects {@code blobs/<algorithm>/<2 hex>/<hex>} in a bucket. Content is verified on this
 * replica's disk before its object is written, and one PUT makes an object appear whole or not at
 * all, so a blob key never holds unverified bytes. Reads come from the local hot-blob cache when it
 * has them (zero copy), else stream from the bucket, or are redirected to it.
 */
public final class S3BlobStore implements BlobStore {
    private static final Duration PRESIGNED_FOR = Duration.ofMinutes(10);
    static final Duration READ_TOUCH_INTERVAL = Duration.ofMinutes(1);

    private final S3Objects objects;
    private final BlobCache cache;
    private final boolean redirect;

    S3BlobStore(S3Objects objects, BlobCache cache, boolean redirect) {
        this.objects = objects;
        this.cache = cache;
        this.redirect = redirect;
    }

    static String keyOf(Digest digest) {
        return "blobs/" + digest.algorithm() + "/" + digest.hex().substring(0, 2) + "/" + digest.hex();
    }

    @Override
    public Optional<BlobInfo> stat(Digest digest) throws IOException {
        return objects.head(keyOf(digest)).map(meta -> new BlobInfo(digest, meta.size(), meta.lastModified()));
    }

    @Override
    public InputStream open(Digest digest, long offset) throws IOException {
        Optional<Path> cached = cache.get(digest);
        if (cached.isPresent()) {
            try {
                FileChannel channel = FileChannel.open(cached.get(), StandardOpenOption.READ);
                channel.position(offset);
                return Channels.newInputStream(channel);
            } catch (NoSuchFileException evicted) {
                // read it from the bucket
            }
        }
        try {
            return objects.get(keyOf(digest), offset);
        } catch (FileNotFoundException e) {
            throw new BlobNotFoundException(digest);
        }
    }

    @Override
    public BlobBody body(Digest digest, long offset, long length) throws IOException {
        Optional<Path> cached = cache.get(digest);
        if (cached.isPresent()) {
            return new BlobBody.FileRegion(cached.get(), offset, length);
        }
        if (redirect) {
            return new BlobBody.Redirect(objects.presign(keyOf(digest), PRESIGNED_FOR), length);
        }
        InputStream in = new S3Objects.BoundedInputStream(open(digest, offset), length);
        return new BlobBody.Stream(offset == 0 ? cache.tee(in, digest, length) : in, length);
    }

    /** The next read of a blob relayed here is then served from this disk, not from the bucket. */
    @Override
    public InputStream keepingRelayedCopy(InputStream in, Digest digest, long size) throws IOException {
        return size < 0 ? in : cache.tee(in, digest, size);
    }

    @Override
    public Path readableFile(Digest digest) throws IOException {
        Optional<Path> cached = cache.get(digest);
        if (cached.isPresent()) {
            return cached.get();
        }
        Path temp = cache.newTempFile();
        try {
            Digester digester = Digester.like(digest);
            try (InputStream in = open(digest, 0); var out = Files.newOutputStream(FsFiles.createFile(temp))) {
                byte[] buffer = new byte[256 * 1024];
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    out.write(buffer, 0, n);
                    digester.update(buffer, 0, n);
                }
            }
            Digest actual = digester.digest();
            if (!actual.equals(digest)) {
                throw new DigestMismatchException(digest, actual, digester.length());
            }
            return cache.adopt(temp, digest);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    @Override
    public BlobWriter newWriter() throws IOException {
        return new FsBlobWriter(this::adopt, cache.newTempFile());
    }

    /** Uploads a verified local file as the blob, then keeps the file as the cache's copy (it was just written: it is hot). */
    void adopt(Path verified, Digest digest, long size) throws IOException {
        if (exists(digest)) {
            try {
                touch(digest);
                Files.deleteIfExists(verified);
                return;
            } catch (BlobNotFoundException retiredMeanwhile) {
                // garbage collection took it since: upload these verified bytes again
            }
        }
        objects.putFile(keyOf(digest), verified, size);
        if (cache.enabled()) {
            cache.adopt(verified, digest);
        } else {
            Files.deleteIfExists(verified);
        }
    }

    @Override
    public boolean insert(Path file, Digest expected) throws IOException {
        if (exists(expected)) {
            touch(expected);
            return false;
        }
        Digest actual;
        try (InputStream in = Files.newInputStream(file)) {
            actual = Digester.digest(in, expected.algorithm());
        }
        long size = Files.size(file);
        if (!actual.equals(expected)) {
            throw new DigestMismatchException(expected, actual, size);
        }
        objects.putFile(keyOf(expected), file, size);
        return true;
    }

    /** Makes an object already in the bucket (a finished upload, verified) the blob {@code digest}. */
    void adoptObject(String key, Digest digest, long size) throws IOException {
        if (exists(digest)) {
            touch(digest);
            return;
        }
        objects.copy(key, keyOf(digest), size);
    }

    @Override
    public boolean delete(Digest digest) throws IOException {
        cache.remove(digest);
        return objects.delete(keyOf(digest));
    }

    private static String retiredKey(Digest digest) {
        return "gc-retired/" + digest.algorithm() + "-" + digest.hex();
    }

    /**
     * S3 has no move: the blob is copied aside, then deleted. A touch between the HEAD and the DELETE
     * (milliseconds) is not seen; a manifest push then fails its own after-check instead (docs/storage.md).
     */
    @Override
    public boolean retire(Digest digest, java.time.Instant cutoff) throws IOException {
        Optional<BlobInfo> info = stat(digest);
        if (info.isEmpty() || !info.get().lastModified().isBefore(cutoff)) {
            return false;
        }
        try {
            objects.copy(keyOf(digest), retiredKey(digest), info.get().size());
        } catch (FileNotFoundException e) {
            return false;
        }
        cache.remove(digest);
        objects.deleteQuietly(keyOf(digest));
        return true;
    }

    @Override
    public void restore(Digest digest) throws IOException {
        Optional<S3Objects.Meta> retired = objects.head(retiredKey(digest));
        if (retired.isEmpty()) {
            return;
        }
        if (!exists(digest)) {
            objects.copy(retiredKey(digest), keyOf(digest), retired.get().size());
        }
        objects.deleteQuietly(retiredKey(digest));
    }

    @Override
    public void purge(Digest digest) throws IOException {
        objects.deleteQuietly(retiredKey(digest));
    }

    @Override
    public java.util.List<Digest> retired() throws IOException {
        java.util.List<Digest> digests = new java.util.ArrayList<>();
        objects.list("gc-retired/", meta -> {
            String name = meta.key().substring("gc-retired/".length());
            int dash = name.indexOf('-');
            if (dash > 0 && Digest.isDigest(name.substring(0, dash) + ":" + name.substring(dash + 1))) {
                digests.add(Digest.parse(name.substring(0, dash) + ":" + name.substring(dash + 1)));
            }
        });
        return digests;
    }

    /**
     * S3 cannot set an object's time: a touch copies the whole object onto itself. A mirror serving a hot
     * blob would copy it on every pull (and moto breaks reads in flight while it does), so a read touches
     * only a blob not modified within {@link #READ_TOUCH_INTERVAL}; eviction's order is that coarse.
     */
    @Override
    public void touchRead(BlobInfo seen) throws IOException {
        if (seen.lastModified() == null || seen.lastModified().isBefore(Instant.now().minus(READ_TOUCH_INTERVAL))) {
            touch(seen.digest());
        }
    }

    @Override
    public void touch(Digest digest) throws IOException {
        try {
            objects.touch(keyOf(digest));
        } catch (FileNotFoundException e) {
            throw new BlobNotFoundException(digest);
        }
    }

    @Override
    public void forEach(Consumer<BlobInfo> action) throws IOException {
        objects.list("blobs/", meta -> {
            String[] parts = meta.key().split("/");
            if (parts.length != 4) {
                return;
            }
            try {
                action.accept(new BlobInfo(new Digest(parts[1], parts[3]), meta.size(), meta.lastModified()));
            } catch (InvalidDigestException ignored) {
                // not a blob: an object put there by hand
            }
        });
    }

    @Override
    public void quarantine(Digest digest) throws IOException {
        Optional<BlobInfo> info = stat(digest);
        if (info.isEmpty()) {
            throw new BlobNotFoundException(digest);
        }
        objects.copy(keyOf(digest), "quarantine/" + digest.algorithm() + "-" + digest.hex() + "-" + System.currentTimeMillis(),
                info.get().size());
        delete(digest);
    }

    @Override
    public int removeStaleTempFiles(Duration age) throws IOException {
        return FsFiles.deleteFilesOlderThan(cache.tmpDir(), age);
    }
}
