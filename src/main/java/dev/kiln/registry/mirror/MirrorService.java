package dev.kiln.registry.mirror;

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
import dev.kiln.store.ManifestLimits;
import dev.kiln.store.Store;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.logging.Logger;

/**
 * Pull-through caching of upstream registries. Blobs and manifests are fetched once however many clients
 * ask at the same time, verified before they are kept, and shared with every repository; manifests by digest are
 * immutable and kept for good; a tag is revalidated with {@code HEAD} once its check interval has
 * passed, and when the upstream fails the cached tag is served stale.
 */
public final class MirrorService {
    private static final Logger LOG = Logger.getLogger(MirrorService.class.getName());
    /** Hot metadata entries kept by default: about 200 bytes each, so some 20 MB at most. */
    public static final long DEFAULT_METADATA_ENTRIES = 100_000;
    private static final String ALL_MANIFESTS = String.join(", ", MediaTypes.MANIFESTS);

    private final Store store;
    private final MirrorStats stats;
    private final Duration tagTtl;
    private final Clock clock;
    private final MetadataCache metadata;
    private final BlobMirror blobs;
    private final ConcurrentHashMap<String, CompletableFuture<BlobLocation>> manifestFetches = new ConcurrentHashMap<>();

    public MirrorService(Store store, MirrorStats stats, Executor fetchers, Duration tagTtl, Clock clock) {
        this(store, stats, fetchers, BlobDownloads.blocking(), DEFAULT_METADATA_ENTRIES, tagTtl, clock);
    }

    /**
     * {@code downloads} fetch the blobs on {@code fetchers}' threads; {@code metadataEntries} bounds the
     * hot metadata kept in memory.
     */
    public MirrorService(Store store, MirrorStats stats, Executor fetchers, BlobDownloads downloads, long metadataEntries,
            Duration tagTtl, Clock clock) {
        this.store = store;
        this.stats = stats;
        this.tagTtl = tagTtl;
        this.clock = clock;
        this.metadata = new MetadataCache(metadataEntries);
        this.blobs = new BlobMirror(store, stats, fetchers, downloads, metadata);
    }

    /** Runs after every blob fetched from upstream, e.g. to enforce the store budget. */
    public void afterFetch(Runnable hook) {
        blobs.afterFetch(hook);
    }

    /** Hot metadata entries held now; never more than the bound given at construction. */
    public long metadataEntries() {
        return metadata.size();
    }

    /** Asked first on every blob miss, e.g. for the replica that owns the digest. */
    public void missesFrom(BlobSource source) {
        blobs.missesFrom(source);
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
        MetadataCache.TagEntry checked = metadata.tag(cacheName, reference);
        if (checked != null && checked.checked().plus(tagTtl).isAfter(clock.instant())) {
            Optional<BlobLocation> fresh = cachedManifest(cacheName, checked.digest());
            if (fresh.isPresent()) {
                stats.increment(route.upstreamName(), Counter.HITS);
                return new ManifestAnswer(acceptable(fresh.get(), accepted, route, reference), false);
            }
        }
        Optional<BlobLocation> cached = store.metadata().resolveTag(cacheName, reference)
                .flatMap(digest -> cachedManifest(cacheName, digest));
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
                metadata.tag(cacheName, reference, resolved.digest(), clock.instant());
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
                metadata.tag(cacheName, reference, cached.get().digest(), clock.instant());
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
        MirrorFailures.fetched(stats, route, "manifest" + (tag == null ? "" : " " + tag), actual, bytes.length, start, -1);
        BlobLocation location = new BlobLocation(actual, bytes.length, mediaType);
        metadata.manifest(route.cacheName(), location);
        return location;
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
        BlobLocation known = metadata.manifest(cacheName, digest);
        if (known != null) {
            try {
                store.blobs().touch(digest); // least-recently-pulled eviction reads this time, as for blobs
                return Optional.of(known);
            } catch (IOException e) {
                metadata.forgetManifest(cacheName, digest); // evicted or collected since: ask the store
            }
        }
        try {
            Optional<String> mediaType = store.metadata().manifestMediaType(cacheName, digest);
            Optional<BlobInfo> info = store.blobs().stat(digest);
            if (mediaType.isEmpty() || info.isEmpty()) {
                return Optional.empty();
            }
            store.blobs().touch(digest); // least-recently-pulled eviction reads this time, as for blobs
            BlobLocation location = new BlobLocation(digest, info.get().size(), mediaType.get());
            metadata.manifest(cacheName, location);
            return Optional.of(location);
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
        return blobs.blob(route, digest);
    }

    /**
     * The blob as a verified file in the store, for readers inside this process that need the whole
     * file: fetched first when missing, joining a fetch already under way.
     */
    public BlobLocation blobFile(MirrorRoute route, Digest digest) throws IOException {
        return blobs.blobFile(route, digest);
    }

    /** Size of a blob without fetching it: from memory or the store, else the upstream's {@code HEAD}. */
    public long blobSize(MirrorRoute route, Digest digest) throws IOException {
        return blobs.blobSize(route, digest);
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

    private static RegistryException relay(MirrorRoute route, UpstreamException e, String what) {
        return MirrorFailures.relay(route, e, what);
    }

    private static Digest parseDigest(String text) {
        return dev.kiln.registry.server.RegistryService.parseDigest(text);
    }
}
