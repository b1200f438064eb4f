package dev.kiln.registry.mirror;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.RepositoryName;
import dev.kiln.registry.client.RegistryClient;
import dev.kiln.registry.client.UpstreamException;
import dev.kiln.registry.client.UpstreamResponse;
import dev.kiln.registry.mirror.MirrorStats.Counter;
import dev.kiln.registry.server.BlobLocation;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import dev.kiln.store.BlobInfo;
import dev.kiln.store.BlobWriter;
import dev.kiln.store.DigestMismatchException;
import dev.kiln.store.ManifestLimits;
import dev.kiln.store.Store;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.Executor;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Pull-through caching of upstream registries. Blobs and manifests are fetched once however many clients
 * ask at the same time, verified before they are kept, and shared with every repository; manifests by digest are
 * immutable and kept for good; a tag is revalidated with {@code HEAD} once its check interval has
 * passed, and when the upstream fails the cached tag is served stale.
 */
public final class MirrorService {
    private static final Logger LOG = Logger.getLogger(MirrorService.class.getName());
    private static final long TAG_CHECKS_KEPT = 100_000;
    private static final String ALL_MANIFESTS = String.join(", ", MediaTypes.MANIFESTS);

    private final Store store;
    private final MirrorStats stats;
    private final Executor fetchers;
    private final Duration tagTtl;
    private final Clock clock;
    private final ConcurrentHashMap<Digest, InflightBlob> inflight = new ConcurrentHashMap<>();
    /**
     * When each mirrored tag was last checked upstream. Bounded: a client walking through millions of
     * tags must not grow the heap, and a forgotten entry only costs one extra HEAD.
     */
    private final Cache<String, Instant> tagChecked;
    private final ConcurrentHashMap<String, CompletableFuture<BlobLocation>> manifestFetches = new ConcurrentHashMap<>();
    private volatile Runnable afterFetch = () -> { };
    private volatile BlobSource misses = BlobSource.NONE;

    public MirrorService(Store store, MirrorStats stats, Executor fetchers, Duration tagTtl, Clock clock) {
        this.store = store;
        this.stats = stats;
        this.fetchers = fetchers;
        this.tagTtl = tagTtl;
        this.clock = clock;
        this.tagChecked = Caffeine.newBuilder()
                .maximumSize(TAG_CHECKS_KEPT)
                .expireAfterWrite(tagTtl)
                .ticker(() -> TimeUnit.MILLISECONDS.toNanos(clock.millis()))
                .build();
    }

    /** Runs after every blob fetched from upstream, e.g. to enforce the store budget. */
    public void afterFetch(Runnable hook) {
        this.afterFetch = hook;
    }

    /** Asked first on every blob miss, e.g. for the replica that owns the digest. */
    public void missesFrom(BlobSource source) {
        this.misses = source;
    }

    public MirrorStats stats() {
        return stats;
    }

    /** A manifest answer: where its bytes are, and whether it was served stale because the upstream failed. */
    public record ManifestAnswer(BlobLocation location, boolean stale) {
    }

    // ---- manifests

    public ManifestAnswer manifest(MirrorRoute route, String reference, List<String> accepted) throws IOException {
        RepositoryName cacheName = route.cacheName();
        stats.imageRequested(route.upstreamName() + "/" + route.remoteName());
        if (Digest.isDigest(reference)) {
            Digest digest = parseDigest(reference);
            Optional<BlobLocation> cached = cachedManifest(cacheName, digest);
            if (cached.isPresent()) {
                stats.increment(route.upstreamName(), Counter.HITS);
                return new ManifestAnswer(acceptable(cached.get(), accepted, route, reference), false);
            }
            try {
                BlobLocation fetched = once(route, cacheName + "@" + digest, () -> {
                    stats.increment(route.upstreamName(), Counter.MISSES);
                    return fetchManifest(route, reference, ALL_MANIFESTS, digest, null);
                });
                return new ManifestAnswer(acceptable(fetched, accepted, route, reference), false);
            } catch (UpstreamException e) {
                throw relay(route, e, "manifest " + reference);
            }
        }
        String key = cacheName + ":" + reference;
        Optional<BlobLocation> cached = store.metadata().resolveTag(cacheName, reference)
                .flatMap(digest -> cachedManifest(cacheName, digest));
        Instant checked = tagChecked.getIfPresent(key);
        if (cached.isPresent() && checked != null && checked.plus(tagTtl).isAfter(clock.instant())) {
            stats.increment(route.upstreamName(), Counter.HITS);
            return new ManifestAnswer(acceptable(cached.get(), accepted, route, reference), false);
        }
        try {
            BlobLocation current = once(route, key, () -> {
                BlobLocation resolved = null;
                if (cached.isPresent()) {
                    Optional<Digest> upstreamDigest = headManifest(route, reference);
                    if (upstreamDigest.filter(cached.get().digest()::equals).isPresent()) {
                        resolved = cached.get();
                        stats.increment(route.upstreamName(), Counter.HITS);
                    }
                }
                if (resolved == null) {
                    stats.increment(route.upstreamName(), Counter.MISSES);
                    resolved = fetchManifest(route, reference, ALL_MANIFESTS, null, reference);
                }
                tagChecked.put(key, clock.instant());
                return resolved;
            });
            if (!MediaTypes.accepts(accepted, current.mediaType())) {
                // The client wants another representation of the tag (e.g. no index): ask for that one.
                String accept = String.join(", ", accepted);
                current = once(route, key + " as " + accept, () -> fetchManifest(route, reference, accept, null, null));
                if (!MediaTypes.accepts(accepted, current.mediaType())) {
                    throw notAcceptable(route, reference, current.mediaType());
                }
            }
            return new ManifestAnswer(current, false);
        } catch (UpstreamException e) {
            if (e.transientFailure() && cached.isPresent()) {
                stats.increment(route.upstreamName(), Counter.STALE_SERVED);
                // Back off for one check interval so an outage does not cost every pull a connect timeout.
                tagChecked.put(key, clock.instant());
                LOG.warning(() -> "serving stale " + cacheName + ":" + reference + " because " + e.getMessage());
                return new ManifestAnswer(acceptable(cached.get(), accepted, route, reference), true);
            }
            throw relay(route, e, "manifest " + reference);
        }
    }

    /** An upstream call for manifests: the one that makes it counts its failure, the others count as coalesced. */
    private interface UpstreamCall {
        BlobLocation call() throws IOException;
    }

    /**
     * Single-flight for manifests: while {@code call} runs for {@code key}, other callers with the same key
     * wait for its outcome instead of asking the upstream again (a manifest GET is what Docker Hub counts
     * as a pull). A failure is counted once, by the caller that made the request.
     */
    private BlobLocation once(MirrorRoute route, String key, UpstreamCall call) throws IOException {
        CompletableFuture<BlobLocation> mine = new CompletableFuture<>();
        CompletableFuture<BlobLocation> running = manifestFetches.putIfAbsent(key, mine);
        if (running != null) {
            stats.increment(route.upstreamName(), Counter.COALESCED);
            try {
                return running.join();
            } catch (CompletionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                throw e;
            }
        }
        try {
            BlobLocation result = call.call();
            mine.complete(result);
            return result;
        } catch (UpstreamException e) {
            stats.error(route.upstreamName(), e.code());
            mine.completeExceptionally(e);
            throw e;
        } catch (IOException | RuntimeException | Error e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            manifestFetches.remove(key, mine);
        }
    }

    private Optional<Digest> headManifest(MirrorRoute route, String reference) throws IOException {
        stats.increment(route.upstreamName(), Counter.UPSTREAM_REQUESTS);
        try (UpstreamResponse response = route.upstream().head(route.remoteName(), manifestPath(route, reference),
                RegistryClient.headers("Accept", ALL_MANIFESTS))) {
            if (response.status() != 200) {
                throw route.upstream().failure(response, "HEAD manifest " + reference);
            }
            String digest = response.header("Docker-Content-Digest");
            return digest == null ? Optional.empty() : Optional.of(parseDigest(digest));
        }
    }

    private BlobLocation fetchManifest(MirrorRoute route, String reference, String accept, Digest expected, String tag) throws IOException {
        long start = System.nanoTime();
        stats.increment(route.upstreamName(), Counter.UPSTREAM_REQUESTS);
        byte[] bytes;
        String mediaType;
        String declaredDigest;
        try (UpstreamResponse response = route.upstream().get(route.remoteName(), manifestPath(route, reference),
                RegistryClient.headers("Accept", accept))) {
            if (response.status() != 200) {
                throw route.upstream().failure(response, "manifest " + reference);
            }
            try {
                bytes = response.body().readNBytes(ManifestLimits.MAX_MANIFEST_BYTES + 1);
            } catch (IOException e) {
                response.abort();
                throw new UpstreamException(route.upstreamName() + " broke off manifest " + reference + ": " + e, e);
            }
            long declaredLength = response.contentLength();
            if (declaredLength >= 0 && declaredLength != bytes.length && bytes.length <= ManifestLimits.MAX_MANIFEST_BYTES) {
                throw new UpstreamException(502, "SIZE_INVALID", route.upstreamName() + " sent " + bytes.length
                        + " bytes of manifest " + reference + " but announced " + declaredLength);
            }
            mediaType = MediaTypes.essence(response.contentType());
            declaredDigest = response.header("Docker-Content-Digest");
        }
        if (bytes.length > ManifestLimits.MAX_MANIFEST_BYTES) {
            throw new UpstreamException(502, "MANIFEST_INVALID", route.upstreamName() + " sent a manifest over 4 MiB for " + reference);
        }
        Digest check = expected != null ? expected : declaredDigest != null ? parseDigest(declaredDigest) : null;
        Digest actual = Digester.forAlgorithm(check == null ? "sha256" : check.algorithm()).update(bytes).digest();
        if (check != null && !check.equals(actual)) {
            throw new UpstreamException(502, "DIGEST_MISMATCH", route.upstreamName() + " sent a manifest for " + reference
                    + " that hashes to " + actual + ", not " + check + "; it was not cached");
        }
        if (mediaType == null || !MediaTypes.isManifest(mediaType)) {
            mediaType = sniffMediaType(bytes, mediaType);
        }
        try (BlobWriter writer = store.blobs().newWriter()) {
            writer.write(bytes, 0, bytes.length);
            writer.commit(actual);
        }
        store.metadata().linkManifest(route.cacheName(), actual, mediaType);
        if (tag != null) {
            store.metadata().tag(route.cacheName(), tag, actual);
        }
        // the manifest's own waiters are counted by once(); a fetch for a tag is logged with it
        fetched(route, "manifest" + (tag == null ? "" : " " + tag), actual, bytes.length, start, -1);
        return new BlobLocation(actual, bytes.length, mediaType);
    }

    private static String sniffMediaType(byte[] bytes, String fallback) {
        try {
            var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(bytes).path("mediaType");
            if (node.isTextual() && MediaTypes.isManifest(node.asText())) {
                return node.asText();
            }
        } catch (IOException ignored) {
            // served as the upstream labelled it
        }
        return fallback == null ? MediaTypes.OCI_MANIFEST : fallback;
    }

    private Optional<BlobLocation> cachedManifest(RepositoryName cacheName, Digest digest) {
        try {
            Optional<String> mediaType = store.metadata().manifestMediaType(cacheName, digest);
            Optional<BlobInfo> info = store.blobs().stat(digest);
            if (mediaType.isEmpty() || info.isEmpty()) {
                return Optional.empty();
            }
            store.blobs().touch(digest); // least-recently-pulled eviction reads this time, as for blobs
            return Optional.of(new BlobLocation(digest, info.get().size(), mediaType.get()));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static BlobLocation acceptable(BlobLocation location, List<String> accepted, MirrorRoute route, String reference) {
        if (!MediaTypes.accepts(accepted, location.mediaType())) {
            throw notAcceptable(route, reference, location.mediaType());
        }
        return location;
    }

    private static RegistryException notAcceptable(MirrorRoute route, String reference, String mediaType) {
        return new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "manifest " + route.cacheName() + ":" + reference + " is a "
                + mediaType + ", which the request's Accept header does not include", Map.of("mediaType", mediaType));
    }

    private static String manifestPath(MirrorRoute route, String reference) {
        return "/v2/" + route.remoteName() + "/manifests/" + reference;
    }

    // ---- blobs

    /** A cached blob is a file to send; a missing one streams while it is fetched (once, whoever asks). */
    public Object blob(MirrorRoute route, Digest digest) throws IOException {
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
    public BlobLocation blobFile(MirrorRoute route, Digest digest) throws IOException {
        Object answer = blob(route, digest);
        if (answer instanceof StreamingBlob streaming) {
            byte[] buffer = new byte[256 * 1024];
            try (InputStream body = streaming.body()) {
                while (body.read(buffer) >= 0) {
                    // the bytes are already in the store; this only waits for them to be verified
                }
            }
            return cachedBlob(route, digest).orElseThrow(() -> new IOException("blob " + digest + " from "
                    + route.upstreamName() + " was fetched but is not in the store"));
        }
        return (BlobLocation) answer;
    }

    private Object joinOrStartFetch(MirrorRoute route, Digest digest) throws IOException {
        boolean[] created = {false};
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
                created[0] = true;
            }
        }
        InputStream reader = fetch.newReader();
        if (reader == null) {
            return null;
        }
        if (created[0]) {
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
                throw relay(route, u, "blob " + digest);
            }
            throw e;
        }
    }

    /** Size of a blob without fetching it: from the store, else the upstream's {@code HEAD}. */
    public long blobSize(MirrorRoute route, Digest digest) throws IOException {
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
            throw failed(route, e, "blob " + digest);
        }
    }

    private Optional<BlobLocation> cachedBlob(MirrorRoute route, Digest digest) throws IOException {
        Optional<BlobInfo> info = store.blobs().stat(digest);
        if (info.isEmpty()) {
            return Optional.empty();
        }
        store.blobs().touch(digest); // least-recently-pulled eviction reads this time
        if (!store.metadata().hasBlob(route.cacheName(), digest)) {
            store.metadata().linkBlob(route.cacheName(), digest);
        }
        return Optional.of(new BlobLocation(digest, info.get().size(), "application/octet-stream"));
    }

    private void fetch(MirrorRoute route, InflightBlob blob) {
        long start = System.nanoTime();
        Digest digest = blob.digest();
        BlobWriter writer = blob.writer();
        stats.increment(route.upstreamName(), Counter.UPSTREAM_REQUESTS);
        try (UpstreamResponse response = route.upstream().get(route.remoteName(), "/v2/" + route.remoteName() + "/blobs/" + digest, Map.of())) {
            if (response.status() != 200) {
                throw route.upstream().failure(response, "blob " + digest);
            }
            long size = response.contentLength();
            blob.started(size);
            byte[] buffer = new byte[256 * 1024];
            try (InputStream in = response.body()) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    writer.write(buffer, 0, n);
                    blob.wrote(n);
                    stats.add(route.upstreamName(), Counter.BYTES_FROM_UPSTREAM, n);
                }
            } catch (IOException e) {
                response.abort();
                throw new UpstreamException(route.upstreamName() + " broke off blob " + digest + " after "
                        + writer.size() + " bytes: " + e.getMessage(), e);
            }
            if (size >= 0 && writer.size() != size) {
                throw new UpstreamException(502, "BLOB_UPLOAD_INVALID", route.upstreamName() + " sent " + writer.size()
                        + " bytes of blob " + digest + " but announced " + size);
            }
            writer.commit(digest);
            store.metadata().linkBlob(route.cacheName(), digest);
            inflight.remove(digest, blob); // newcomers find it in the store from now on
            blob.verified();
            fetched(route, "blob", digest, writer.size(), start, blob.waiters());
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
            afterFetch.run();
        }
    }

    /** The one INFO line per upstream fetch an operator reads, and the latency metric. */
    private void fetched(MirrorRoute route, String kind, Digest digest, long bytes, long startNanos, int waiters) {
        java.time.Duration took = java.time.Duration.ofNanos(System.nanoTime() - startNanos);
        stats.fetched(route.upstreamName(), kind.startsWith("manifest") ? "manifest" : "blob", bytes, took);
        LOG.info(() -> "fetched " + kind + " " + route.upstreamName() + "/" + route.remoteName() + "@" + digest
                + ": " + bytes + " bytes in " + took.toMillis() + " ms"
                + (waiters >= 0 ? ", " + waiters + " coalesced waiters" : ""));
    }

    // ---- listings

    /** Tags are the upstream's to list: relayed, never cached. */
    public byte[] tags(MirrorRoute route, String query) throws IOException {
        stats.increment(route.upstreamName(), Counter.UPSTREAM_REQUESTS);
        try (UpstreamResponse response = route.upstream().get(route.remoteName(),
                "/v2/" + route.remoteName() + "/tags/list" + (query == null || query.isEmpty() ? "" : "?" + query), Map.of())) {
            if (response.status() != 200) {
                throw route.upstream().failure(response, "tags of " + route.remoteName());
            }
            try {
                return response.body().readNBytes(16 << 20);
            } catch (IOException e) {
                response.abort();
                throw new UpstreamException(route.upstreamName() + " broke off the tags of " + route.remoteName() + ": " + e, e);
            }
        } catch (UpstreamException e) {
            throw failed(route, e, "tags");
        }
    }

    /** Counts a failed upstream request made by this thread, then {@link #relay}s it. */
    private RegistryException failed(MirrorRoute route, UpstreamException e, String what) {
        stats.error(route.upstreamName(), e.code());
        return relay(route, e, what);
    }

    /**
     * The client's answer to an upstream failure. Does not count it: a blob download that failed was
     * counted once by its fetcher, however many clients were waiting for it.
     */
    private RegistryException relay(MirrorRoute route, UpstreamException e, String what) {
        String message = "upstream " + route.upstreamName() + ": " + e.getMessage();
        Map<String, String> detail = Map.of("upstream", route.upstreamName(), "status", Integer.toString(e.status()));
        return switch (e.status()) {
            case 404 -> new RegistryException(what.startsWith("blob") ? ErrorCode.BLOB_UNKNOWN
                    : what.equals("tags") ? ErrorCode.NAME_UNKNOWN : ErrorCode.MANIFEST_UNKNOWN, message, detail);
            case 429 -> new RegistryException(ErrorCode.TOOMANYREQUESTS, 429, message, detail,
                    e.retryAfter() == null ? Map.of() : Map.of("Retry-After", e.retryAfter()));
            case 401, 403 -> new RegistryException(ErrorCode.DENIED, 403, message + " (check the credentials configured for this upstream)", detail, Map.of());
            default -> new RegistryException(ErrorCode.UNAVAILABLE, 502, message, detail, Map.of());
        };
    }

    private static Digest parseDigest(String text) {
        return dev.kiln.registry.server.RegistryService.parseDigest(text);
    }
}
