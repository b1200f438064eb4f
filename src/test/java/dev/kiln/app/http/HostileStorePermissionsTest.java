package dev.kiln.app.http;

import static dev.kiln.app.http.BuildApi.context;
import static dev.kiln.app.http.BuildApi.host;
import static dev.kiln.app.http.BuildApi.tarGz;
import static dev.kiln.app.http.Registry.OCI_MANIFEST;
import static dev.kiln.app.http.Registry.imageManifest;
import static dev.kiln.app.http.Registry.pushManifest;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Nothing the gateway keeps is readable by other local users, whatever the umask it was started
 * with: blobs, manifests, upload sessions, build records (which hold build args), logs and contexts.
 */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class HostileStorePermissionsTest {
    private static final Set<PosixFilePermission> OTHERS = Set.of(PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE,
            PosixFilePermission.OTHERS_EXECUTE);

    @Test
    void storeFilesAreTheGatewaysAlone() throws Exception {
        String repo = repo("local", "private");
        pushManifest(repo, "1", OCI_MANIFEST, imageManifest(repo, OCI_MANIFEST));
        request().post("/v2/" + repo + "/blobs/uploads/").then().statusCode(202); // left open: a session on disk
        Path ctx = context(Path.of("target", "hostile-permissions-test"), "FROM scratch\nARG TOKEN\nCOPY a.txt /a.txt\n", Map.of("a.txt", "a\n"));
        String id = request().contentType("application/gzip").body(tarGz(ctx))
                .post("/api/v1/builds?buildArg=TOKEN=hunter2&destination=" + host() + "/" + repo + ":built")
                .then().statusCode(202).extract().path("id");
        assertEquals("succeeded", BuildApi.awaitEnd(id).get("state").asText());

        List<String> exposed = new ArrayList<>();
        int records = 0;
        try (Stream<Path> paths = Files.walk(WipeTestStore.STORE)) {
            for (Path path : (Iterable<Path>) paths::iterator) {
                if (Files.isSymbolicLink(path) || path.toString().contains("/work/") || path.toString().contains("/run-cache")
                        || path.toString().contains("/build-cache/layers")) {
                    // a build's rootfs, RUN cache mounts and the kept unpacked layers keep the image's own modes,
                    // inside private directories (build-cache is checked below)
                    continue;
                }
                Set<PosixFilePermission> perms = Files.getPosixFilePermissions(path);
                if (perms.stream().anyMatch(OTHERS::contains)) {
                    exposed.add(PosixFilePermissions.toString(perms) + " " + path);
                }
                if (path.getFileName().toString().endsWith(".json") && Files.readString(path).contains("hunter2")) {
                    records++;
                }
            }
        }
        assertTrue(records > 0, "the build record with its args was looked at");
        assertEquals(List.of(), exposed, "readable by others");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(WipeTestStore.STORE)));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(WipeTestStore.STORE.resolve("build-cache"))));
    }
}
