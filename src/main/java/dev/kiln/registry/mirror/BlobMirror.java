package dev.kiln.registry.mirror;

import dev.kiln.oci.Digest;
import dev.kiln.registry.client.UpstreamException;
import dev.kiln.registry.client.UpstreamResponse;
import dev.kiln.registry.mirror.MirrorStats.Counter;
import dev.kiln.registry.server.BlobLocation;
import dev.kiln.store.BlobInfo;
import dev.kiln.store.BlobWriter;
import dev.kiln.store.DigestMismatchException;
import dev.kiln.store.Store;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The mirror's blobs: a cached one is a file to send; a missing one is fetched once however many clients
 * ask, spooled to the store's temp file that every waiting client follows, and kept only once its digest
 * has been verified.
 */
final class BlobMirror {
    private static final Logger LOG = Logger.getLogger(BlobMirror.class.getName());
    private static final int BATCH = 256 * 1024;

    private final Store store;
    private final MirrorStats stats;
    private final Executor fetchers;
    private final BlobDownloads downloads;
    private final MetadataCache metadata;
    private final ConcurrentHashMap<Digest, InflightBlob> inflight = new ConcurrentHashMap<>();
    private volatile Runnable afterFetch = () -> { };
    private volatile BlobSource misses = BlobSource.NONE;

    BlobMirror(Store store, MirrorStats stats, Executor fetchers, BlobDownloads downloads, MetadataCache metadata) {
        this.store = store;
        this.stats = stats;
        this.fetchers = fetchers;
        this.downloads = downloads;
        this.metadata = metadata;
    }

    void afterFetch(Runnable hook) {
        this.afterFetch = hook;
    }

    void missesFrom(BlobSource source) {
        this.misses = source;
    }

    /** A cached blob is a file to send; a missing one streams while it is fetched (once, whoever asks). */
    Object blob(MirrorRoute route, Digest digest) throws IOException {
        while (true) {
            Optional<BlobLocation> cached = cachedBlob(route, digest);
            if (cached.isPresent()) {
                stats.increment(route.upstreamName(), Counter.HITS);
                stats.add(route.upstreamName(), Counter.BYTES_FROM_CACHE, cached.get().size());
                return cached.get();
            }
            Optional<StreamingBlob> elsewhere = misses.open(route, digest);
            if (elsewhere.isPresent()) {
                return elsewhere.get();
            }
            Object answer = joinOrStartFetch(route, digest);
            if (answer != null) {
                return answer;
            }
            // The download we joined finished between the lookup and our reader: it is in the store now.
        }
    }

    /**
     * The blob as a verified file in the store, for readers inside this process that need the whole
     * file: fetched first when missing, joining a fetch already under way. Waiting means following the
     * download to its end, which also surfaces a corrupt or broken one as an error.
     */
    BlobLocation blobFile(MirrorRoute route, Digest digest) throws IOException {
        Object answer = blob(route, digest);
        if (answer instanceof StreamingBlob streaming) {
            byte[] buffer = new byte[256 * 1024];
            try (InputStream body = streaming.body()) {
                while (body.read(buffer) >= 0) {
                    // the bytes are already in the store's temp file; this only waits for them to be verified
                }
            }
            InflightBlob storing = inflight.get(digest);
            if (storing != null) {
                storing.awaitDone(); // verified bytes reach readers before the store has kept them
            }
            return cachedBlob(route, digest).orElseThrow(() -> new IOException("blob " + digest + " from "
                    + route.upstreamName() + " was fetched but is not in the store"));
        }
        return (BlobLocation) answer;
    }

    private Object joinOrStartFetch(MirrorRoute route, Digest digest) throws IOException {
        boolean created = false;
        InflightBlob fetch;
        synchronized (inflight) {
            fetch = inflight.get(digest);
            if (fetch == null) {
                // It may have been committed between the check above and here.
                Optional<BlobLocation> raced = cachedBlob(route, digest);
                if (raced.isPresent()) {
                    return raced.get();
                }
                fetch = new InflightBlob(digest, store.blobs().newWriter());
                inflight.put(digest, fetch);
                created = true;
            }
        }
        InputStream reader = fetch.newReader();
        if (reader == null) {
            return null;
        }
        if (created) {
            stats.increment(route.upstreamName(), Counter.MISSES);
            InflightBlob started = fetch;
            fetchers.execute(() -> fetch(route, started));
        } else {
            fetch.joined();
            stats.increment(route.upstreamName(), Counter.COALESCED);
        }
        try {
            long size = fetch.awaitStart();
            return new StreamingBlob(digest, size, reader);
        } catch (IOException e) {
            reader.close();
            if (e instanceof UpstreamException u) {
                throw MirrorFailures.relay(route, u, "blob " + digest);
            }
            throw e;
        }
    }

    /** Size of a blob without fetching it: from memory or the store, else the upstream's {@code HEAD}. */
    long blobSize(MirrorRoute route, Digest digest) throws IOException {
        Long known = metadata.blobSize(digest);
        if (known != null) {
            return known;
        }
        Optional<BlobLocation> cached = cachedBlob(route, digest);
        if (cached.isPresent()) {
            return cached.get().size();
        }
        stats.increment(route.upstreamName(), Counter.UPSTREAM_REQUESTS);
        try (UpstreamResponse response = route.upstream().head(route.remoteName(), "/v2/" + route.remoteName() + "/blobs/" + digest, Map.of())) {
            if (response.status() != 200) {
                throw route.upstream().failure(response, "blob " + digest);
            }
            return response.contentLength();
        } catch (UpstreamException e) {
            stats.error(route.upstreamName(), e.code());
            throw MirrorFailures.relay(route, e, "blob " + digest);
        }
    }

    private Optional<BlobLocation> cachedBlob(MirrorRoute route, Digest digest) throws IOException {
        Optional<BlobInfo> info = store.blobs().stat(digest);
        if (info.isEmpty()) {
            metadata.forgetBlob(digest);
            return Optional.empty();
        }
        metadata.blobSize(digest, info.get().size());
        store.blobs().touchRead(info.get()); // least-recently-pulled eviction reads this time
        if (!metadata.linked(route.cacheName(), digest)) {
            if (!store.metadata().hasBlob(route.cacheName(), digest)) {
                store.metadata().linkBlob(route.cacheName(), digest);
            }
            metadata.link(route.cacheName(), digest);
        }
        return Optional.of(new BlobLocation(digest, info.get().size(), "application/octet-stream"));
    }

    /** Writes {@code length} bytes of {@code batch} to the temp file the readers follow; returns 0. */
    private int spool(MirrorRoute route, InflightBlob blob, byte[] batch, int length) throws IOException {
        if (length > 0) {
            blob.writer().write(batch, 0, length);
            blob.wrote(length);
            stats.add(route.upstreamName(), Counter.BYTES_FROM_UPSTREAM, length);
        }
        return 0;
    }

    private void fetch(MirrorRoute route, InflightBlob blob) {
        long start = System.nanoTime();
        Digest digest = blob.digest();
        BlobWriter writer = blob.writer();
        stats.increment(route.upstreamName(), Counter.UPSTREAM_REQUESTS);
        try (BlobDownloads.Download download = downloads.open(route, digest)) {
            long size = download.contentLength();
            blob.started(size);
            // The network hands over a few KiB at a time; writing and waking the readers for each piece cost
            // more than the piece itself, so what has already arrived is gathered into one write.
            byte[] batch = new byte[BATCH];
            int filled = 0;
            for (ByteBuffer chunk; (chunk = download.next()) != null; ) {
                while (chunk.hasRemaining()) {
                    int n = Math.min(chunk.remaining(), BATCH - filled);
                    chunk.get(batch, filled, n);
                    filled += n;
                    if (filled == BATCH) {
                        filled = spool(route, blob, batch, filled);
                    }
                }
                if (filled > 0 && !download.ready()) {
                    filled = spool(route, blob, batch, filled);
                }
                if (size >= 0 && writer.size() > size) {
                    break; // more than announced: refused below without waiting for the rest
                }
            }
            spool(route, blob, batch, filled);
            if (size >= 0 && writer.size() != size) {
                throw new UpstreamException(502, "BLOB_UPLOAD_INVALID", route.upstreamName() + " sent " + writer.size()
                        + " bytes of blob " + digest + " but announced " + size);
            }
            writer.verify(digest);
            blob.verified();
            writer.commit(digest);
            store.metadata().linkBlob(route.cacheName(), digest);
            metadata.blobSize(digest, writer.size());
            inflight.remove(digest, blob); // newcomers find it in the store from now on
            MirrorFailures.fetched(stats, route, "blob", digest, writer.size(), start, blob.waiters());
        } catch (DigestMismatchException e) {
            stats.error(route.upstreamName(), "DIGEST_MISMATCH");
            LOG.warning(() -> route.upstreamName() + " sent corrupt content for " + digest + ": " + e.getMessage());
            inflight.remove(digest, blob);
            blob.failed(e);
        } catch (IOException | RuntimeException e) {
            stats.error(route.upstreamName(), e instanceof UpstreamException u ? u.code() : "IO_ERROR");
            LOG.log(Level.WARNING, "fetching " + digest + " from " + route.upstreamName() + " failed: " + e.getMessage());
            inflight.remove(digest, blob);
            blob.failed(e instanceof IOException io ? io : new IOException(e));
        } finally {
            try {
                writer.close();
            } catch (IOException ignored) {
                // the temp file goes with the next stale-file sweep
            }
            inflight.remove(digest, blob);
            blob.done();
            afterFetch.run();
        }
    }
}
