package dev.kiln.registry.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.RepositoryName;
import dev.kiln.registry.server.BlobLocation;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class MetadataCacheTest {
    private static Digest digest(int i) {
        return Digester.sha256().update(("blob " + i).getBytes(StandardCharsets.UTF_8)).digest();
    }

    @Test
    void aClientWalkingManyNamesNeverGrowsItPastItsBound() throws Exception {
        MetadataCache cache = new MetadataCache(1000);
        RepositoryName repository = new RepositoryName("up/library/walker");
        Instant now = Instant.now();
        for (int i = 0; i < 20_000; i++) {
            cache.tag(new RepositoryName("up/walker/r" + i), "t" + i, digest(i), now);
            cache.manifest(repository, new BlobLocation(digest(i), i, "application/vnd.oci.image.manifest.v1+json"));
            cache.link(repository, digest(i));
            cache.blobSize(digest(i + 1_000_000), i);
        }
        long held = cache.size();
        assertTrue(held <= 1000, "held " + held + " entries with a bound of 1000");
        assertTrue(held > 500, "the bound is used, not emptied: " + held);
    }

    @Test
    void whatItHoldsIsWhatWasPut() throws Exception {
        MetadataCache cache = new MetadataCache(100);
        RepositoryName repository = new RepositoryName("up/library/busybox");
        Instant checked = Instant.parse("2026-12-03T10:00:00Z");
        cache.tag(repository, "latest", digest(1), checked);
        cache.manifest(repository, new BlobLocation(digest(2), 321, "application/vnd.oci.image.index.v1+json"));
        assertEquals(new MetadataCache.TagEntry(digest(1), checked), cache.tag(repository, "latest"));
        assertNull(cache.tag(repository, "other"));
        assertEquals(321L, cache.blobSize(digest(2)), "a manifest's size doubles as its blob size");
        assertNull(cache.manifest(new RepositoryName("up/library/alpine"), digest(2)), "per repository");
        cache.forgetManifest(repository, digest(2));
        assertNull(cache.manifest(repository, digest(2)));
        assertNull(cache.blobSize(digest(2)));
    }
}
