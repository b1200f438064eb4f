package dev.kiln.registry.client.support;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code docker-registry} (distribution 2.x) on a free loopback port, storing under a test
 * directory; optionally protected by htpasswd (Basic auth). Close it to stop the process.
 */
public final class LocalRegistry implements AutoCloseable {
    private final Process process;
    private final int port;
    private final Path root;
    private final Path log;
    private final boolean tls;

    private LocalRegistry(Process process, int port, Path root, Path log, boolean tls) {
        this.process = process;
        this.port = port;
        this.root = root;
        this.log = log;
        this.tls = tls;
    }

    public static LocalRegistry start(Path dir) throws IOException {
        return start(dir, null, null);
    }

    /** With {@code user} not null, the registry requires Basic auth with that user and password. */
    public static LocalRegistry start(Path dir, String user, String password) throws IOException {
        return start(dir, user, password, null, null);
    }

    /** Serving HTTPS with the given PEM certificate and key instead of plain HTTP. */
    public static LocalRegistry startTls(Path dir, Path certificate, Path key) throws IOException {
        return start(dir, null, null, certificate, key);
    }

    private static LocalRegistry start(Path dir, String user, String password, Path certificate, Path key) throws IOException {
        Files.createDirectories(dir);
        int port = dev.kiln.testkit.Ports.freePort();
        Path storage = dir.resolve("storage");
        StringBuilder yml = new StringBuilder("""
                version: 0.1
                log:
                  level: warn
                storage:
                  filesystem:
                    rootdirectory: %s
                  delete:
                    enabled: true
                http:
                  addr: 127.0.0.1:%d
                """.formatted(storage, port));
        if (user != null) {
            Path htpasswd = dir.resolve("htpasswd");
            Process p = new ProcessBuilder("htpasswd", "-Bbn", user, password).redirectErrorStream(true).start();
            byte[] line = p.getInputStream().readAllBytes();
            waitFor(p, "htpasswd");
            Files.write(htpasswd, line);
            yml.append("""
                    auth:
                      htpasswd:
                        realm: kiln-test
                        path: %s
                    """.formatted(htpasswd));
        }
        if (certificate != null) {
            yml.append("""
                      tls:
                        certificate: %s
                        key: %s
                    """.formatted(certificate, key));
        }
        Path config = dir.resolve("config.yml");
        Files.writeString(config, yml);
        Path log = dir.resolve("registry.log");
        Process process = new ProcessBuilder("docker-registry", "serve", config.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        LocalRegistry registry = new LocalRegistry(process, port, storage, log, certificate != null);
        registry.awaitReady();
        return registry;
    }

    private void awaitReady() throws IOException {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(20));
        while (Instant.now().isBefore(deadline)) {
            if (!process.isAlive()) {
                throw new IOException("docker-registry exited: " + Files.readString(log));
            }
            try {
                HttpURLConnection c = (HttpURLConnection) URI.create(url() + "/v2/").toURL().openConnection();
                if (c instanceof javax.net.ssl.HttpsURLConnection https) {
                    https.setSSLSocketFactory(dev.kiln.registry.client.TlsTrust.trustingEverything().getSocketFactory());
                    https.setHostnameVerifier(dev.kiln.registry.client.TlsTrust.ANY_HOST);
                }
                c.setConnectTimeout(500);
                int status = c.getResponseCode();
                c.disconnect();
                if (status == 200 || status == 401) {
                    return;
                }
            } catch (IOException | java.security.GeneralSecurityException notYet) {
                // still starting
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }
        close();
        throw new IOException("docker-registry did not start on port " + port + ": " + Files.readString(log));
    }

    public String host() {
        return "127.0.0.1:" + port;
    }

    public String url() {
        return (tls ? "https://" : "http://") + host();
    }

    public int port() {
        return port;
    }

    /** The registry's storage root (distribution's filesystem driver layout). */
    public Path storage() {
        return root;
    }

    /** Where distribution keeps a blob's bytes. */
    public Path blobData(String digest) {
        String hex = digest.substring(digest.indexOf(':') + 1);
        return root.resolve("docker/registry/v2/blobs/sha256/" + hex.substring(0, 2) + "/" + hex + "/data");
    }

    /** {@code skopeo copy} with plain HTTP and no signature policy; {@code args} are the rest. */
    public static void skopeo(String... args) throws IOException {
        List<String> command = new java.util.ArrayList<>(List.of("skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
                "--src-tls-verify=false"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (waitFor(p, "skopeo") != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + output);
        }
    }

    private static int waitFor(Process p, String what) throws IOException {
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(what + " timed out");
            }
            return p.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
