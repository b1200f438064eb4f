package dev.kiln.registry.mirror;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.kiln.oci.Digest;
import dev.kiln.oci.RepositoryName;
import dev.kiln.registry.server.BlobLocation;
import java.time.Instant;

/**
 * The mirror's hot metadata in memory, so a warm pull asks the store's files only for the bytes: which
 * digest a tag had when it was last checked upstream, the media type and size of manifests by digest,
 * blob sizes and which cached repository links a blob. One size bound covers them all: a client walking
 * millions of names must not grow the heap, and a forgotten entry costs one file read or one {@code HEAD}.
 * The store stays the truth: an entry whose blob has gone (evicted, collected) is dropped on sight.
 */
final class MetadataCache {
    /** What a tag pointed to, and when the upstream last confirmed it. */
    record TagEntry(Digest digest, Instant checked) {
    }

    private record TagKey(RepositoryName repository, String tag) {
    }

    private record ManifestKey(RepositoryName repository, Digest digest) {
    }

    private record LinkKey(RepositoryName repository, Digest digest) {
    }

    private final Cache<Object, Object> entries;

    MetadataCache(long maximumEntries) {
        this.entries = Caffeine.newBuilder().maximumSize(maximumEntries).build();
    }

    TagEntry tag(RepositoryName repository, String tag) {
        return (TagEntry) entries.getIfPresent(new TagKey(repository, tag));
    }

    void tag(RepositoryName repository, String tag, Digest digest, Instant checked) {
        entries.put(new TagKey(repository, tag), new TagEntry(digest, checked));
    }

    BlobLocation manifest(RepositoryName repository, Digest digest) {
        return (BlobLocation) entries.getIfPresent(new ManifestKey(repository, digest));
    }

    void manifest(RepositoryName repository, BlobLocation location) {
        entries.put(new ManifestKey(repository, location.digest()), location);
        entries.put(location.digest(), location.size());
    }

    void forgetManifest(RepositoryName repository, Digest digest) {
        entries.invalidate(new ManifestKey(repository, digest));
        entries.invalidate(digest);
    }

    Long blobSize(Digest digest) {
        return (Long) entries.getIfPresent(digest);
    }

    void blobSize(Digest digest, long size) {
        entries.put(digest, size);
    }

    void forgetBlob(Digest digest) {
        entries.invalidate(digest);
    }

    boolean linked(RepositoryName repository, Digest digest) {
        return entries.getIfPresent(new LinkKey(repository, digest)) != null;
    }

    void link(RepositoryName repository, Digest digest) {
        entries.put(new LinkKey(repository, digest), Boolean.TRUE);
    }

    /** Entries held now, after pending evictions: never more than the bound. */
    long size() {
        entries.cleanUp();
        return entries.estimatedSize();
    }
}
