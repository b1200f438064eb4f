package dev.kiln.builder.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.kiln.registry.client.support.LocalRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The TLS flags of {@code kiln build} against a real {@code docker-registry} serving HTTPS with a
 * self-signed certificate made by {@code openssl}: nothing is trusted by default, and
 * {@code --registry-certificate}, {@code --skip-tls-verify*} each open the way for pull and push.
 */
class RegistryTlsTest {
    private static Path dir;
    private static Path certificate;
    private static LocalRegistry registry;

    @BeforeAll
    static void registryWithASelfSignedCertificate() throws Exception {
        dir = Files.createTempDirectory("kiln-tls-test");
        certificate = dir.resolve("registry.pem");
        Path key = dir.resolve("registry.key");
        exec("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key.toString(), "-out", certificate.toString());
        registry = LocalRegistry.startTls(dir.resolve("registry"), certificate, key);
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
        exec("rm", "-rf", dir.toString());
    }

    private static Path context(String name, String dockerfile) throws IOException {
        Path ctx = Files.createDirectories(dir.resolve(name));
        Files.writeString(ctx.resolve("hello.txt"), "hello " + name + "\n");
        Files.writeString(ctx.resolve("Dockerfile"), dockerfile);
        return ctx;
    }

    private static String firstError(BuildInputsTest.Run run) {
        return run.log().lines().filter(l -> l.startsWith("error:")).findFirst().orElse("");
    }

    @Test
    void pushAndPullNeedTrustAndEachFlagGivesIt() throws Exception {
        String host = registry.host();
        Path baseCtx = context("base", "FROM scratch\nCOPY hello.txt /base.txt\n");
        String base = host + "/tls/base:1";

        BuildInputsTest.Run untrustedPush = BuildInputsTest.build("-c", baseCtx.toString(), "-d", base);
        assertNotEquals(0, untrustedPush.exit());
        assertTrue(firstError(untrustedPush).contains("is not trusted") && firstError(untrustedPush).contains("--skip-tls-verify"),
                untrustedPush.log());

        BuildInputsTest.Run pushed = BuildInputsTest.build("-c", baseCtx.toString(), "-d", base, "--skip-tls-verify");
        assertEquals(0, pushed.exit(), pushed.log());

        Path appCtx = context("app", "FROM " + base + "\nCOPY hello.txt /app.txt\n");
        String cache = dir.resolve("cache").toString();
        BuildInputsTest.Run untrustedPull = BuildInputsTest.build("-c", appCtx.toString(), "--no-push", "--cache-dir", cache);
        assertNotEquals(0, untrustedPull.exit());
        String error = firstError(untrustedPull);
        assertTrue(error.contains("Dockerfile:1") && error.contains("TLS certificate of 127.0.0.1 is not trusted")
                && error.contains("--registry-certificate " + host + "=CA.pem"), untrustedPull.log());
        assertEquals(1, untrustedPull.log().lines().filter(l -> l.startsWith("error:")).count(), untrustedPull.log());

        for (List<String> flags : List.of(List.of("--registry-certificate", host + "=" + certificate),
                List.of("--skip-tls-verify-pull"), List.of("--skip-tls-verify-registry", host))) {
            List<String> args = new java.util.ArrayList<>(List.of("-c", appCtx.toString(), "--no-push"));
            args.addAll(flags);
            BuildInputsTest.Run run = BuildInputsTest.build(args.toArray(String[]::new));
            assertEquals(0, run.exit(), flags + ": " + run.log());
            assertTrue(run.log().contains("pulled " + base), run.log());
        }

        BuildInputsTest.Run pushWithCa = BuildInputsTest.build("-c", appCtx.toString(), "-d", host + "/tls/app:1",
                "--registry-certificate", host + "=" + certificate);
        assertEquals(0, pushWithCa.exit(), pushWithCa.log());
        assertTrue(pushWithCa.log().contains("pushed " + host + "/tls/app:1"), pushWithCa.log());

        BuildInputsTest.Run badCa = BuildInputsTest.build("-c", appCtx.toString(), "--no-push",
                "--registry-certificate", host + "=" + dir.resolve("missing.pem"));
        assertNotEquals(0, badCa.exit());
        assertTrue(firstError(badCa).contains("--registry-certificate"), badCa.log());
    }

    @Test
    void httpsContextsAreVerifiedUnlessSkipTlsVerify() throws Exception {
        Path p12 = dir.resolve("server.p12");
        exec("openssl", "pkcs12", "-export", "-in", certificate.toString(), "-inkey", dir.resolve("registry.key").toString(),
                "-out", p12.toString(), "-passout", "pass:kiln");
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(p12)) {
            keys.load(in, "kiln".toCharArray());
        }
        KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        factory.init(keys, "kiln".toCharArray());
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(factory.getKeyManagers(), null, null);
        Path src = context("https-ctx", "FROM scratch\nCOPY hello.txt /\n");
        exec("tar", "-czf", dir.resolve("ctx.tar.gz").toString(), "-C", src.toString(), ".");
        HttpsServer server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(tls));
        server.createContext("/ctx.tar.gz", exchange -> {
            exchange.sendResponseHeaders(200, Files.size(dir.resolve("ctx.tar.gz")));
            try (OutputStream out = exchange.getResponseBody()) {
                Files.copy(dir.resolve("ctx.tar.gz"), out);
            }
        });
        server.start();
        try {
            String url = "https://127.0.0.1:" + server.getAddress().getPort() + "/ctx.tar.gz";
            Path layout = dir.resolve("https-layout");
            BuildInputsTest.Run untrusted = BuildInputsTest.build("-c", url, "--no-push");
            assertNotEquals(0, untrusted.exit());
            assertTrue(firstError(untrusted).contains("not trusted") && firstError(untrusted).contains("--skip-tls-verify"),
                    untrusted.log());
            BuildInputsTest.Run skipped = BuildInputsTest.build("-c", url, "--no-push", "--skip-tls-verify",
                    "--oci-layout-path", layout.toString());
            assertEquals(0, skipped.exit(), skipped.log());
            assertEquals("hello https-ctx\n", new String(BuildInputsTest.layerFiles(layout).get("hello.txt"),
                    StandardCharsets.UTF_8));
        } finally {
            server.stop(0);
        }
    }

    private static void exec(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
    }
}
