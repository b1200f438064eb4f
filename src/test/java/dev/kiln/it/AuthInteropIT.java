package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Http;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import dev.kiln.testkit.TestImages.Layout;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Basic auth from an htpasswd file made by Apache's own htpasswd, driven by skopeo. */
class AuthInteropIT {
    private static final String CREDS = "pusher:s3cret-Pa55";

    @TempDir
    static Path work;

    static Skopeo skopeo;
    static Layout busybox;
    static Path htpasswd;

    @BeforeAll
    static void setUp() throws IOException {
        skopeo = new Skopeo(work.resolve("skopeo"));
        busybox = TestImages.busybox(work.resolve("busybox"));
        Path tool = Tools.require("htpasswd", "apache2-utils");
        ExecResult made = Tools.run(List.of(tool.toString(), "-Bbn", "pusher", "s3cret-Pa55"), Map.of(), 30);
        assertTrue(made.ok(), made.output());
        assertTrue(made.stdout().startsWith("pusher:$2y$"), "a bcrypt line: " + made.stdout());
        htpasswd = work.resolve("htpasswd");
        Files.writeString(htpasswd, made.stdout());
    }

    private static String ref(KilnProcess kiln, String repoAndTag) {
        return "docker://" + kiln.hostPort() + "/" + repoAndTag;
    }

    private static String basic(String credentials) {
        return "Basic " + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Clients learn the auth scheme from the {@code GET /v2/} ping only (containers/image, docker): it
     * must challenge when no credentials come, or skopeo never sends {@code --dest-creds}.
     */
    private static void assertPingChallenges(KilnProcess kiln) throws IOException, InterruptedException {
        Http http = Http.at(kiln.baseUrl());
        HttpResponse<String> anonymous = http.getText("v2/");
        assertEquals(401, anonymous.statusCode(), anonymous.body());
        assertTrue(anonymous.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Basic "), anonymous.headers().map().toString());
        assertEquals(200, http.request(HttpRequest.newBuilder(http.url("v2/")).header("Authorization", basic(CREDS)).GET()).statusCode());
        assertEquals(401, http.request(HttpRequest.newBuilder(http.url("v2/")).header("Authorization", basic("pusher:wrong")).GET())
                .statusCode());
    }

    @Test
    void pushNeedsCredentialsAnonymousPullIsAllowed() throws Exception {
        try (KilnProcess kiln = KilnProcess.start("auth-anon-pull", work.resolve("store-a"), "--htpasswd", htpasswd.toString())) {
            assertPingChallenges(kiln);
            ExecResult anonymous = skopeo.tryRun("copy", "--dest-tls-verify=false", busybox.reference(), ref(kiln, "local/auth:1"));
            assertFalse(anonymous.ok(), "a push without credentials must be refused:\n" + anonymous.output());
            assertTrue(anonymous.output().toLowerCase().contains("unauthorized")
                    || anonymous.output().toLowerCase().contains("authentication required"), anonymous.output());

            ExecResult wrong = skopeo.tryRun("copy", "--dest-tls-verify=false", "--dest-creds", "pusher:wrong",
                    busybox.reference(), ref(kiln, "local/auth:1"));
            assertFalse(wrong.ok(), "a push with a wrong password must be refused:\n" + wrong.output());

            ExecResult nothing = skopeo.tryRun("inspect", "--tls-verify=false", ref(kiln, "local/auth:1"));
            assertFalse(nothing.ok(), "refused pushes left no image:\n" + nothing.output());

            skopeo.run("copy", "--dest-tls-verify=false", "--dest-creds", CREDS, busybox.reference(), ref(kiln, "local/auth:1"));

            String digest = skopeo.run("inspect", "--tls-verify=false", "--format", "{{.Digest}}", ref(kiln, "local/auth:1"))
                    .stdout().trim();
            assertEquals(busybox.image().digest(), digest, "anonymous pull (inspect) works");
            Path out = work.resolve("anon-out");
            skopeo.run("copy", "--src-tls-verify=false", ref(kiln, "local/auth:1"), "dir:" + out);
            assertEquals(busybox.image().digest(), skopeo.run("manifest-digest", out.resolve("manifest.json").toString()).stdout().trim());

            // What skopeo sends when it has no credentials for a Basic challenge: empty ones, which count as none.
            Http http = Http.at(kiln.baseUrl());
            HttpResponse<String> empty = http.request(HttpRequest.newBuilder(http.url("v2/local/auth/manifests/1"))
                    .header("Authorization", basic(":")).header("Accept", TestImages.OCI_MANIFEST).GET());
            assertEquals(200, empty.statusCode(), empty.body());

            ExecResult delete = skopeo.tryRun("delete", "--tls-verify=false", ref(kiln, "local/auth:1"));
            assertFalse(delete.ok(), "an anonymous delete must be refused:\n" + delete.output());
            assertEquals(busybox.image().digest(), skopeo.run("inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                    ref(kiln, "local/auth:1")).stdout().trim(), "the refused delete deleted nothing");
        }
    }

    @Test
    void withoutAnonymousPullEveryReadNeedsCredentials() throws Exception {
        try (KilnProcess kiln = KilnProcess.start("auth-no-anon", work.resolve("store-b"),
                "--htpasswd", htpasswd.toString(), "--anonymous-pull", "false")) {
            assertPingChallenges(kiln);
            skopeo.run("copy", "--dest-tls-verify=false", "--dest-creds", CREDS, busybox.reference(), ref(kiln, "local/private:1"));

            ExecResult anonymous = skopeo.tryRun("inspect", "--tls-verify=false", ref(kiln, "local/private:1"));
            assertFalse(anonymous.ok(), "an anonymous pull must be refused:\n" + anonymous.output());
            assertTrue(anonymous.output().toLowerCase().contains("unauthorized")
                    || anonymous.output().toLowerCase().contains("authentication required"), anonymous.output());
            ExecResult anonymousCopy = skopeo.tryRun("copy", "--src-tls-verify=false", ref(kiln, "local/private:1"),
                    "dir:" + work.resolve("refused"));
            assertFalse(anonymousCopy.ok(), anonymousCopy.output());
            ExecResult wrong = skopeo.tryRun("inspect", "--tls-verify=false", "--creds", "pusher:wrong", ref(kiln, "local/private:1"));
            assertFalse(wrong.ok(), wrong.output());
            Http http = Http.at(kiln.baseUrl());
            assertEquals(401, http.request(HttpRequest.newBuilder(http.url("v2/local/private/manifests/1"))
                    .header("Authorization", basic(":")).GET()).statusCode(), "empty credentials are no credentials");

            Path out = work.resolve("creds-out");
            skopeo.run("copy", "--src-tls-verify=false", "--src-creds", CREDS, ref(kiln, "local/private:1"), "dir:" + out);
            assertEquals(busybox.image().digest(), skopeo.run("manifest-digest", out.resolve("manifest.json").toString()).stdout().trim());
            assertEquals(busybox.image().digest(), skopeo.run("inspect", "--tls-verify=false", "--creds", CREDS,
                    "--format", "{{.Digest}}", ref(kiln, "local/private:1")).stdout().trim());
        }
    }
}
