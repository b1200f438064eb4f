package dev.kiln.build.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.registry.client.support.LocalRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
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

    private static void exec(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
    }
}
