package dev.kiln.registry.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.image.ImageReference;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.OciLayout;
import dev.kiln.testkit.Skopeo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An htpasswd-protected docker-registry, with credentials from config.json {@code auths} or a credential helper. */
class AuthenticatedPullPushTest {
    @TempDir
    static Path dir;
    static DockerRegistry registry;

    @BeforeAll
    static void start() throws IOException {
        registry = DockerRegistry.start(dir.resolve("registry"), "kiln", "s3cret");
        Path layout = dir.resolve("layout");
        OciLayout oci = new OciLayout(layout);
        oci.tag("v1", oci.platformImage("linux", "amd64", null, "auth").manifest());
        new Skopeo(dir.resolve("skopeo")).copyPlainHttp("--dest-creds", "kiln:s3cret", "oci:" + layout + ":v1", "docker://" + registry.host() + "/private/app:v1");
    }

    @AfterAll
    static void stop() {
        registry.close();
    }

    private PulledImage pullAndPushWith(Registries.CredentialSource credentials, String cache) throws IOException {
        Registries registries = new Registries(Set.of(registry.host()), credentials);
        PulledImage image = new ImagePuller(registries, MirrorRoutes.none(), new BlobCache(dir.resolve(cache)), Retry.NONE)
                .pull(ImageReference.parse(registry.host() + "/private/app:v1"));
        ImagePusher.Result pushed = new ImagePusher(registries, Retry.NONE).push(ImagePusher.Image.of(image),
                List.of(ImageReference.parse(registry.host() + "/private/" + cache + ":v1")), ImageReference.parse(registry.host() + "/private/app"));
        assertEquals(image.manifestDigest(), pushed.digest());
        assertEquals(0, pushed.bytesUploaded(), "mounted from the source repository");
        return image;
    }

    @Test
    void withoutCredentialsThePullIsUnauthorized() {
        UpstreamException e = assertThrows(UpstreamException.class, () -> pullAndPushWith(host -> Optional.empty(), "none"));
        assertEquals(401, e.status());
    }

    @Test
    void credentialsFromConfigJsonAuths() throws IOException {
        Path config = dir.resolve("auths/config.json");
        Files.createDirectories(config.getParent());
        String auth = Base64.getEncoder().encodeToString("kiln:s3cret".getBytes(StandardCharsets.UTF_8));
        Files.writeString(config, "{\"auths\":{\"http://" + registry.host() + "\":{\"auth\":\"" + auth + "\"}}}");
        DockerCredentials credentials = DockerCredentials.fromEnvironment(Map.of("DOCKER_CONFIG", config.getParent().toString(), "PATH", ""));
        assertEquals(Optional.of(new Credentials("kiln", "s3cret")), credentials.lookup(registry.host()));
        pullAndPushWith(credentials, "fromauths");
    }

    @Test
    void credentialsFromACredentialHelper() throws IOException {
        Path bin = dir.resolve("bin");
        Path asked = dir.resolve("asked.txt");
        helper(bin, "kilntest", asked, "{\"ServerURL\":\"x\",\"Username\":\"kiln\",\"Secret\":\"s3cret\"}");
        Path config = dir.resolve("helper/config.json");
        Files.createDirectories(config.getParent());
        // auths holds a wrong password: the helper must win.
        String wrong = Base64.getEncoder().encodeToString("kiln:wrong".getBytes(StandardCharsets.UTF_8));
        Files.writeString(config, "{\"auths\":{\"" + registry.host() + "\":{\"auth\":\"" + wrong + "\"}},"
                + "\"credHelpers\":{\"" + registry.host() + "\":\"kilntest\"}}");
        DockerCredentials credentials = new DockerCredentials(config, List.of(bin));
        pullAndPushWith(credentials, "fromhelper");
        assertEquals(registry.host(), Files.readString(asked).trim(), "the helper is asked for the registry host on stdin");
    }

    @Test
    void credsStoreIsAskedForDockerHubByItsIndexUrl() throws IOException {
        Path bin = dir.resolve("bin-store");
        Path asked = dir.resolve("asked-store.txt");
        helper(bin, "store", asked, "{\"Username\":\"hubuser\",\"Secret\":\"hubpass\"}");
        Path config = dir.resolve("store/config.json");
        Files.createDirectories(config.getParent());
        Files.writeString(config, "{\"credsStore\":\"store\"}");
        DockerCredentials credentials = new DockerCredentials(config, List.of(bin));
        assertEquals(Optional.of(new Credentials("hubuser", "hubpass")), credentials.lookup("docker.io"));
        assertEquals(DockerCredentials.DOCKER_HUB_SERVER, Files.readString(asked).trim());

        Files.writeString(config, "{\"credsStore\":\"missing\"}");
        IOException e = assertThrows(IOException.class, () -> new DockerCredentials(config, List.of(bin)).lookup("quay.io"));
        assertTrue(e.getMessage().contains("docker-credential-missing"), e.getMessage());
    }

    @Test
    void helperThatDoesNotKnowTheHostFallsBackToAuths() throws IOException {
        Path bin = dir.resolve("bin-notfound");
        Files.createDirectories(bin);
        Path script = bin.resolve("docker-credential-nf");
        Files.writeString(script, "#!/bin/sh\ncat >/dev/null\necho 'credentials not found in native keychain'\nexit 1\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path config = dir.resolve("nf/config.json");
        Files.createDirectories(config.getParent());
        String auth = Base64.getEncoder().encodeToString("u:p".getBytes(StandardCharsets.UTF_8));
        Files.writeString(config, "{\"credsStore\":\"nf\",\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" + auth + "\"}}}");
        assertEquals(Optional.of(new Credentials("u", "p")), new DockerCredentials(config, List.of(bin)).lookup("docker.io"));
    }

    private static void helper(Path bin, String name, Path asked, String answer) throws IOException {
        Files.createDirectories(bin);
        Path script = bin.resolve("docker-credential-" + name);
        Files.writeString(script, "#!/bin/sh\n[ \"$1\" = get ] || exit 2\ncat > '" + asked + "'\necho '" + answer + "'\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
}
