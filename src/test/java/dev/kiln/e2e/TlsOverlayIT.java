package dev.kiln.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnImage;
import dev.kiln.testkit.KubeManifests;
import dev.kiln.testkit.Podman;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code tls} overlay as deployed: the gateway serves HTTPS with the certificate of the Secret
 * {@code kiln-tls} (made here by openssl, signed by a CA of the test's own), its probes use HTTPS,
 * and plain HTTP is not served. skopeo pushes and pulls verifying the certificate.
 */
class TlsOverlayIT {
    @TempDir
    static Path work;
    static Podman podman;
    static GatewayPod gateway;
    static Path certs;

    @BeforeAll
    static void deployTheTlsOverlay() throws Exception {
        assertTrue(Tools.isRoot(), "podman kube play runs the pods as root here (../shared/podman-notes.md)");
        podman = new Podman(work.resolve("podman"));
        certs = Files.createDirectories(work.resolve("certs"));
        String openssl = Tools.require("openssl", "openssl").toString();
        for (List<String> step : List.of(
                List.of(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kiln test CA",
                        "-keyout", "ca.key", "-out", "ca.crt"),
                List.of(openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "tls.key", "-out", "tls.csr"),
                List.of("sh", "-c", "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext"),
                List.of(openssl, "x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                        "-extfile", "san.ext", "-out", "tls.crt"))) {
            List<String> inCerts = new java.util.ArrayList<>(List.of("sh", "-c", "cd \"$0\" && exec \"$@\"", certs.toString()));
            inCerts.addAll(step);
            ExecResult r = Tools.run(inCerts, Map.of(), 60);
            assertEquals(0, r.exitCode(), step + ": " + r.output());
        }
        gateway = new GatewayPod(podman, KubeManifests.render("tls", KilnImage.gateway(), work), work);
        gateway.secret("kiln-tls", Map.of("tls.crt", Files.readString(certs.resolve("tls.crt")), "tls.key", Files.readString(certs.resolve("tls.key"))));
        gateway.trust(certs.resolve("ca.crt"));
        gateway.start(); // through the readiness probe, over HTTPS, verifying the certificate
    }

    @AfterAll
    static void tearDown() {
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void theGatewayServesHttpsWithTheSecretsCertificateAndNoPlainHttp() throws Exception {
        assertTrue(gateway.url("/v2/").startsWith("https://"));
        HttpResponse<String> v2 = gateway.http().send(HttpRequest.newBuilder(URI.create(gateway.url("/v2/"))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, v2.statusCode(), v2.body() + "\n" + gateway.logTail());
        HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        assertThrows(IOException.class, () -> plain.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/v2/"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()), "plain HTTP is not served");
        HttpClient untrusting = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        assertThrows(IOException.class, () -> untrusting.send(HttpRequest.newBuilder(URI.create(gateway.url("/v2/")))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()), "the certificate is the test CA's, not a public one");
    }

    @Test
    void skopeoPushesAndPullsVerifyingTheCertificate() throws Exception {
        Skopeo skopeo = new Skopeo(work.resolve("skopeo"));
        Path certDir = Files.createDirectories(work.resolve("skopeo-certs"));
        Files.copy(certs.resolve("ca.crt"), certDir.resolve("ca.crt"));
        TestImages.Layout layout = TestImages.busybox(work.resolve("busybox"));
        String ref = "docker://" + gateway.hostPort() + "/local/tls/busybox:1";
        ExecResult pushed = skopeo.tryRun("copy", "--dest-cert-dir", certDir.toString(), layout.reference(), ref);
        assertEquals(0, pushed.exitCode(), pushed.output() + "\n" + gateway.logTail());
        String digest = skopeo.run("inspect", "--cert-dir", certDir.toString(), "--format", "{{.Digest}}", ref).stdout().trim();
        assertEquals(layout.topDigest(), digest);
    }
}
