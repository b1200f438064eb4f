package dev.kiln.builder.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.cache.CachePolicy;
import dev.kiln.builder.cache.LayerCache;
import dev.kiln.builder.sandbox.Sandboxes;
import dev.kiln.oci.layer.Compression;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** A request is checked once, as a whole, when it is made. */
class BuildRequestTest {

    @Test
    void defaultsAreWhatKilnBuildUsesWithoutFlags() {
        BuildRequest request = BuildRequest.builder().build();
        assertEquals(Path.of("Dockerfile"), request.dockerfile());
        assertEquals(Sandboxes.Mode.AUTO, request.sandbox());
        assertEquals(Compression.gzip(), request.compression());
        assertEquals(Compression.zstd(19), BuildRequest.builder().compression("ZSTD", 19).build().compression());
        assertTrue(request.destinations().isEmpty());
    }

    @Test
    void settingsThatAreWrongOrDoNotFitTogetherAreRefusedByName() {
        assertEquals("unknown --compression brotli (gzip, zstd)", assertThrows(IllegalArgumentException.class,
                () -> BuildRequest.builder().compression("brotli", -1).build()).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> BuildRequest.builder().sandbox("chroot").build()).getMessage().startsWith("unknown sandbox chroot"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> BuildRequest.builder().dryRun(true).build()).getMessage().contains("needs a layer cache"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> BuildRequest.builder().singleSnapshot(true).cache(LayerCache.readOnly(null), CachePolicy.ALL).build())
                .getMessage().contains("single-snapshot"));
    }
}
