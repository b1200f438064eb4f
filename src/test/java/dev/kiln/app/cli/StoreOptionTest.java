package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.app.config.S3StoreConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kiln fsck}/{@code kiln gc} run in a gateway's pod ({@code kubectl exec}) read the same
 * files as its {@code kiln serve}: the pod's root is read-only, and only the local dir its config
 * names is writable.
 */
class StoreOptionTest {
    @TempDir
    Path work;

    @Test
    void theCommandLineReadsTheS3SettingsFromTheConfigLocationsTheFirstListedWinning() throws Exception {
        Path overlay = Files.writeString(work.resolve("ha.properties"), "kiln.store.s3.local-dir=/var/lib/kiln/local\nkiln.store.s3.path-style=true\n");
        Path base = Files.writeString(work.resolve("kiln.properties"), "kiln.store.s3.local-dir=/elsewhere\nkiln.store.s3.region=eu-west-1\n");
        S3StoreConfig s3 = StoreOption.s3Config("file:" + overlay + ",file:" + base + ",file:" + work.resolve("missing.properties"));
        assertEquals("/var/lib/kiln/local", s3.localDir());
        assertEquals(true, s3.pathStyle());
        assertEquals("eu-west-1", s3.region());
        assertEquals(Optional.empty(), s3.endpoint());
    }
}
