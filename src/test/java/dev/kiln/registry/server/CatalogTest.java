package dev.kiln.registry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.oci.Digest;
import dev.kiln.oci.RepositoryName;
import dev.kiln.store.Store;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What /v2/_catalog names: images someone could pull, not every name a client once asked about. */
class CatalogTest {
    @TempDir
    Path dir;

    @Test
    void aMirroredNameAppearsOnlyOnceItHoldsAManifest() throws IOException {
        Store store = Store.openFilesystem(dir);
        RegistryService registry = new RegistryService(store, new NamespacePolicy(List.of("local")));
        Digest blob = Digest.sha256("layer".getBytes(StandardCharsets.UTF_8));
        Digest manifest = Digest.sha256("manifest".getBytes(StandardCharsets.UTF_8));

        store.metadata().linkBlob(new RepositoryName("local/app"), blob);
        // what a blob HEAD through the mirror leaves behind
        store.metadata().linkBlob(new RepositoryName("docker.io/team/app3"), blob);
        assertEquals(List.of("local/app"), registry.catalog(null, null).items());

        store.metadata().linkManifest(new RepositoryName("docker.io/team/app3"), manifest, "application/vnd.oci.image.manifest.v1+json");
        assertEquals(List.of("docker.io/team/app3", "local/app"), registry.catalog(null, null).items());
    }
}
