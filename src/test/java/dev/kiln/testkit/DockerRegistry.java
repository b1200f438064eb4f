package dev.kiln.testkit;

import dev.kiln.registry.client.TlsTrust;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.HttpsURLConnection;

/**
 * Debian's {@code docker-registry} (CNCF distribution) on a loopback port, storing under a test
 * directory, with an access log (combined log format, one line per request) that tests count requests
 * in. Optionally behind htpasswd (Basic auth), a token {@code auth:} section, or TLS. Close it to stop it.
 */
public final class DockerRegistry implements AutoCloseable {
    private static final Pattern REQUEST = Pattern.compile("\"([A-Z]+) (\\S+) HTTP/[0-9.]+\" (\\d{3}) \\S+ \"[^\"]*\" \"([^\"]*)\"");
    /** On an idle machine it answers within a second; {@link Slowness} scales this. */
    private static final Duration START_TIMEOUT = Duration.ofSeconds(20);

    private final Path dir;
    private final int port;
    private final boolean tls;
    private final Process process;

    private DockerRegistry(Path dir, int port, boolean tls, Process process) {
        this.dir = dir;
        this.port = port;
        this.tls = tls;
        this.process = process;
    }

    /** A plain-HTTP registry without auth on a free port. */
    public static DockerRegistry start(Path dir) throws IOException {
        return configure(dir).start();
    }

    /** A plain-HTTP registry that requires Basic auth with {@code user} and {@code password}. */
    public static DockerRegistry start(Path dir, String user, String password) throws IOException {
        return configure(dir).htpasswd(user, password).start();
    }

    /** A registry serving HTTPS with the given PEM certificate and key. */
    public static DockerRegistry startTls(Path dir, Path certificate, Path key) throws IOException {
        return configure(dir).tls(certificate, key).start();
    }

    /** The options, for {@link Options#start()}. */
    public static Options configure(Path dir) {
        return new Options(dir);
    }

    /** What the registry is started with; each option defaults to off, the port to a free one. */
    public static final class Options {
        private final Path dir;
        private String user;
        private String password;
        private String authYaml = "";
        private Path certificate;
        private Path key;
        private int port;

        private Options(Path dir) {
            this.dir = dir;
        }

        /** Basic auth against an htpasswd file holding this one user (bcrypt, by htpasswd(1)). */
        public Options htpasswd(String user, String password) {
            this.user = user;
            this.password = password;
            return this;
        }

        /** A whole top-level {@code auth:} section, e.g. {@code TokenIssuer.authYaml()}. */
        public Options authYaml(String yaml) {
            this.authYaml = yaml;
            return this;
        }

        public Options tls(Path certificate, Path key) {
            this.certificate = certificate;
            this.key = key;
            return this;
        }

        /** A fixed port, e.g. one a Kiln server was configured with before the registry started. */
        public Options port(int port) {
            this.port = port;
            return this;
        }

        public DockerRegistry start() throws IOException {
            return DockerRegistry.launch(this);
        }
    }

    private static DockerRegistry launch(Options options) throws IOException {
        Path dir = options.dir;
        Files.createDirectories(dir);
        int port = options.port != 0 ? options.port : Ports.freePort();
        StringBuilder yml = new StringBuilder("""
                version: 0.1
                log:
                  level: info
                  accesslog:
                    disabled: false
                storage:
                  filesystem:
                    rootdirectory: %s
                  delete:
                    enabled: true
                  maintenance:
                    uploadpurging:
                      enabled: false
                http:
                  addr: 127.0.0.1:%d
                """.formatted(dir.resolve("storage"), port));
        if (options.certificate != null) {
            yml.append("""
                      tls:
                        certificate: %s
                        key: %s
                    """.formatted(options.certificate, options.key));
        }
        if (options.user != null) {
            Path htpasswd = dir.resolve("htpasswd");
            String line = Tools.run("htpasswd", "-Bbn", options.user, options.password).requireSuccess().stdout().trim();
            Files.writeString(htpasswd, line + "\n");
            yml.append("""
                    auth:
                      htpasswd:
                        realm: kiln-test
                        path: %s
                    """.formatted(htpasswd));
        }
        yml.append(options.authYaml).append('\n');
        Path config = dir.resolve("config.yml");
        Files.writeString(config, yml);
        // distribution writes the access log to stdout and its own log to stderr
        Process process = new ProcessBuilder("docker-registry", "serve", config.toString())
                .redirectOutput(dir.resolve("access.log").toFile())
                .redirectError(dir.resolve("registry.log").toFile())
                .start();
        Runtime.getRuntime().addShutdownHook(new Thread(process::destroyForcibly)); // if the test JVM is stopped early
        DockerRegistry registry = new DockerRegistry(dir, port, options.certificate != null, process);
        registry.awaitReady();
        return registry;
    }

    private void awaitReady() throws IOException {
        Duration timeout = Slowness.scale(START_TIMEOUT);
        boolean up = Poll.until(timeout, () -> !process.isAlive() || answers());
        if (!up || !process.isAlive()) {
            close();
            throw new IOException("docker-registry did not answer on port " + port + " within " + timeout.toSeconds() + " s ("
                    + Slowness.describe() + (process.isAlive() ? "" : "; it exited with " + process.exitValue()) + "); "
                    + dir.resolve("registry.log") + ":\n" + logTail());
        }
    }

    private boolean answers() {
        try {
            HttpURLConnection c = (HttpURLConnection) URI.create(url() + "/v2/").toURL().openConnection();
            if (c instanceof HttpsURLConnection https) {
                https.setSSLSocketFactory(TlsTrust.trustingEverything().getSocketFactory());
                https.setHostnameVerifier(TlsTrust.ANY_HOST);
            }
            c.setConnectTimeout(500);
            int status = c.getResponseCode();
            c.disconnect();
            return status == 200 || status == 401;
        } catch (IOException | GeneralSecurityException notYet) {
            return false;
        }
    }

    public int port() {
        return port;
    }

    /** {@code 127.0.0.1:port}, as skopeo and image references want it. */
    public String host() {
        return "127.0.0.1:" + port;
    }

    public String url() {
        return (tls ? "https://" : "http://") + host();
    }

    public Path dir() {
        return dir;
    }

    /** The registry's storage root (distribution's filesystem driver layout). */
    public Path storage() {
        return dir.resolve("storage");
    }

    /** Where distribution keeps a blob's bytes. */
    public Path blobData(String digest) {
        String hex = digest.substring(digest.indexOf(':') + 1);
        return storage().resolve("docker/registry/v2/blobs/sha256/" + hex.substring(0, 2) + "/" + hex + "/data");
    }

    /** The last 80 lines of the registry's own log, for failure messages. */
    public String logTail() {
        try {
            return Slowness.tail(Files.readString(dir.resolve("registry.log"), StandardCharsets.UTF_8), 80);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** One access-log line; Kiln identifies itself to upstreams as {@code kiln/…}. */
    public record Request(String method, String path, int status, String userAgent) {
        public boolean fromKiln() {
            return userAgent.startsWith("kiln/");
        }
    }

    /** Every request logged so far; the query string is dropped from the path. */
    public List<Request> requests() {
        try {
            return Files.readAllLines(dir.resolve("access.log"), StandardCharsets.UTF_8).stream()
                    .map(REQUEST::matcher)
                    .filter(Matcher::find)
                    .map(m -> new Request(m.group(1), m.group(2).replaceFirst("\\?.*", ""), Integer.parseInt(m.group(3)), m.group(4)))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public long count(String method, String path) {
        return requests().stream().filter(r -> r.method().equals(method) && r.path().equals(path)).count();
    }

    /** GETs of one blob, by digest, in any repository. */
    public long blobGets(String digest) {
        return requests().stream().filter(r -> r.method().equals("GET") && r.path().endsWith("/blobs/" + digest)).count();
    }

    /** Uploads {@code content} as a blob of {@code repo} in one request; its digest. */
    public String pushBlob(String repo, byte[] content) throws IOException, InterruptedException {
        String digest = TestImages.sha256(content);
        // distribution answers a monolithic POST by opening a session: one chunk, then the closing PUT
        java.net.http.HttpResponse<String> pushed = Http.at(url()).chunked(repo, content, Math.max(1, content.length));
        if (pushed.statusCode() != 201) {
            throw new IOException("uploading " + digest + " to " + repo + ": HTTP " + pushed.statusCode() + " " + pushed.body());
        }
        return digest;
    }

    /** A one-layer OCI image of {@code layer} (any bytes) under {@code repo:tag}; the manifest's digest. */
    public String pushImage(String repo, String tag, byte[] layer) throws IOException, InterruptedException {
        byte[] config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        String configDigest = pushBlob(repo, config);
        String layerDigest = pushBlob(repo, layer);
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + configDigest
                + "\",\"size\":" + config.length + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                + "\"digest\":\"" + layerDigest + "\",\"size\":" + layer.length + "}]}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.net.http.HttpResponse<String> put = Http.at(url()).request(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(url() + "/v2/" + repo + "/manifests/" + tag))
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofByteArray(manifest))
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json"));
        if (put.statusCode() != 201) {
            throw new IOException("pushing the manifest " + repo + ":" + tag + ": HTTP " + put.statusCode() + " " + put.body());
        }
        return TestImages.sha256(manifest);
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
