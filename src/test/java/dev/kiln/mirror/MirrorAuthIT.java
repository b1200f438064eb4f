package dev.kiln.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.OciLayout.Content;
import dev.kiln.testkit.OciLayout.Image;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Http;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.OciLayout;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TokenIssuer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Upstreams that want credentials: distribution with htpasswd (Basic) and with a token service (Bearer JWTs). */
@Timeout(120)
class MirrorAuthIT {
    static final String USER = "kiln";
    static final String PASSWORD = "s3cret-pass";

    @TempDir
    static Path tmp;
    static Skopeo skopeo;

    static DockerRegistry basicRegistry;
    static TokenIssuer issuer;
    static DockerRegistry tokenRegistry;
    static KilnProcess kiln;
    static Image basicImage;
    static Image tokenImage;
    static Image otherTokenImage;

    @BeforeAll
    static void start() throws Exception {
        skopeo = new Skopeo(tmp.resolve("skopeo"));
        OciLayout layout = new OciLayout(tmp.resolve("layout"));
        basicImage = layout.image("basic", Content.of("auth-basic"));
        tokenImage = layout.image("token", Content.of("auth-token"));
        otherTokenImage = layout.image("other", Content.of("auth-token-other"));

        basicRegistry = DockerRegistry.start(tmp.resolve("basic"), USER, PASSWORD);
        skopeo.push(layout.ref("basic"), basicRegistry.host() + "/auth/basic:1", "--dest-creds", USER + ":" + PASSWORD);

        issuer = new TokenIssuer(tmp.resolve("issuer"), USER, PASSWORD);
        tokenRegistry = DockerRegistry.configure(tmp.resolve("token")).authYaml(issuer.authYaml()).start();
        skopeo.push(layout.ref("token"), tokenRegistry.host() + "/auth/token:1", "--dest-creds", USER + ":" + PASSWORD);
        skopeo.push(layout.ref("other"), tokenRegistry.host() + "/auth/other:1", "--dest-creds", USER + ":" + PASSWORD);

        Path dockerConfig = tmp.resolve("docker-config.json");
        Files.writeString(dockerConfig, """
                {"auths": {"%s": {"auth": "%s"}}}
                """.formatted(basicRegistry.host(), Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8))));

        kiln = KilnProcess.configure("mirror-auth", tmp.resolve("kiln").resolve("store")).jvmOptions("-Xmx512m")
                .systemProperties(List.of(
                        "kiln.mirror.upstreams.\"basic\".username=" + USER,
                        "kiln.mirror.upstreams.\"basic\".password=" + PASSWORD,
                        "kiln.mirror.upstreams.\"basic-dc\".docker-config=" + dockerConfig,
                        "kiln.mirror.upstreams.\"token\".username=" + USER,
                        "kiln.mirror.upstreams.\"token\".password=" + PASSWORD))
                .args("--upstream", "basic=" + basicRegistry.url(),
                        "--upstream", "basic-dc=" + basicRegistry.url(),
                        "--upstream", "basic-anon=" + basicRegistry.url(),
                        "--upstream", "token=" + tokenRegistry.url(),
                        "--upstream", "token-anon=" + tokenRegistry.url())
                .start();
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable closeable : new AutoCloseable[] {kiln, tokenRegistry, issuer, basicRegistry}) {
            try {
                if (closeable != null) {
                    closeable.close();
                }
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    @Test
    void basicAuthUpstreamWithConfiguredCredentials() throws Exception {
        Path copy = tmp.resolve("basic-copy");
        skopeo.copy("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/basic/auth/basic:1", "dir:" + copy).requireSuccess();
        assertEquals(basicImage.digest(), Skopeo.manifestDigest(copy));
        assertTrue(basicRegistry.requests().stream().anyMatch(r -> r.fromKiln() && r.status() == 200));
    }

    @Test
    void basicAuthCredentialsFromADockerConfig() throws Exception {
        Http.Response manifest = Http.get(kiln.baseUrl() + "/v2/basic-dc/auth/basic/manifests/1", "Accept", Http.ACCEPT_ALL);
        assertEquals(200, manifest.status(), () -> new String(manifest.body()));
        assertEquals(basicImage.digest(), manifest.digest());
    }

    @Test
    void basicAuthUpstreamWithoutCredentialsGivesAClearError() throws Exception {
        Http.Response response = Http.get(kiln.baseUrl() + "/v2/basic-anon/auth/basic/manifests/1", "Accept", Http.ACCEPT_ALL);
        assertEquals(403, response.status(), () -> new String(response.body()));
        assertEquals("DENIED", response.errorCode());
        assertTrue(response.errorMessage().contains("basic-anon") && response.errorMessage().contains("no credentials"), response.errorMessage());
        assertEquals(null, response.header("WWW-Authenticate"), "Kiln must not ask its own client for the upstream's credentials");

        ExecResult pull = skopeo.copy("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/basic-anon/auth/basic:1",
                "dir:" + tmp.resolve("anon-copy"));
        assertNotEquals(0, pull.exitCode());
        assertTrue(pull.output().contains("no credentials"), pull.output());
    }

    @Test
    void tokenAuthUpstreamIssuesScopedTokensThatAreReused() throws Exception {
        int before = kilnTokenRequests().size();
        Path copy = tmp.resolve("token-copy");
        skopeo.copy("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/token/auth/token:1", "dir:" + copy).requireSuccess();
        assertEquals(tokenImage.digest(), Skopeo.manifestDigest(copy));
        Http.Response other = Http.get(kiln.baseUrl() + "/v2/token/auth/other/manifests/1", "Accept", Http.ACCEPT_ALL);
        assertEquals(200, other.status());
        assertEquals(otherTokenImage.digest(), other.digest());

        List<TokenIssuer.Request> requests = kilnTokenRequests().subList(before, kilnTokenRequests().size());
        assertEquals(List.of(List.of("repository:auth/token:pull"), List.of("repository:auth/other:pull")),
                requests.stream().map(TokenIssuer.Request::scopes).toList(), "one token per repository, scoped to pull");
        for (TokenIssuer.Request request : requests) {
            assertEquals(issuer.basic(), request.authorization(), "Kiln sends its configured credentials to the token service");
            assertEquals(TokenIssuer.SERVICE, request.service());
        }
        long kilnRequests = tokenRegistry.requests().stream().filter(DockerRegistry.Request::fromKiln).count();
        long authorized = tokenRegistry.requests().stream().filter(r -> r.fromKiln() && r.status() == 200).count();
        assertEquals(4, authorized, "manifest, config and layer of one image, manifest of the other");
        assertTrue(requests.size() < kilnRequests, requests.size() + " token requests for " + kilnRequests + " registry requests");
    }

    @Test
    void tokenAuthUpstreamWithoutCredentialsIsDenied() throws Exception {
        Http.Response response = Http.get(kiln.baseUrl() + "/v2/token-anon/auth/token/manifests/1", "Accept", Http.ACCEPT_ALL);
        assertEquals(403, response.status(), () -> new String(response.body()));
        assertEquals("DENIED", response.errorCode());
        assertTrue(response.errorMessage().contains("token-anon"), response.errorMessage());
        TokenIssuer.Request last = kilnTokenRequests().get(kilnTokenRequests().size() - 1);
        assertEquals(null, last.authorization(), "no credentials are configured for token-anon");
        assertEquals(List.of("repository:auth/token:pull"), last.scopes());
    }

    private static List<TokenIssuer.Request> kilnTokenRequests() {
        return issuer.requests().stream().filter(TokenIssuer.Request::fromKiln).toList();
    }
}
