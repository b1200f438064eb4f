package dev.kiln.mirror.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real CNCF distribution registry ({@code docker-registry}) on a free loopback port, with its own
 * storage and an access log (combined log format, one line per request) that tests count requests in.
 */
public final class UpstreamRegistry implements AutoCloseable {
    private static final Pattern REQUEST = Pattern.compile("\"([A-Z]+) (\\S+) HTTP/[0-9.]+\" (\\d{3}) \\S+ \"[^\"]*\" \"([^\"]*)\"");

    private final Path dir;
    private final int port;
    private final Process process;
    private final Path accessLog;

    private UpstreamRegistry(Path dir, int port, Process process) {
        this.dir = dir;
        this.port = port;
        this.process = process;
        this.accessLog = dir.resolve("access.log");
    }

    /** Starts a registry; {@code authYaml} is an {@code auth:} section, or empty for none. */
    public static UpstreamRegistry start(Path dir, String authYaml) throws IOException {
        return start(dir, authYaml, Proc.freePort());
    }

    /** Starts a registry on {@code port}, e.g. one a Kiln server was configured with before it started. */
    public static UpstreamRegistry start(Path dir, String authYaml, int port) throws IOException {
        Files.createDirectories(dir);
        String config = """
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
                %s
                """.formatted(dir.resolve("data"), port, authYaml);
        Path configFile = dir.resolve("config.yml");
        Files.writeString(configFile, config);
        // distribution writes the access log to stdout and its own log to stderr.
        Process process = new ProcessBuilder("docker-registry", "serve", configFile.toString())
                .redirectOutput(dir.resolve("access.log").toFile())
                .redirectError(dir.resolve("registry.log").toFile())
                .start();
        UpstreamRegistry registry = new UpstreamRegistry(dir, port, process);
        Runtime.getRuntime().addShutdownHook(new Thread(process::destroyForcibly)); // if the test JVM is stopped early
        HttpClient client = HttpClient.newHttpClient();
        boolean up = Proc.poll(Duration.ofSeconds(20), () -> {
            if (!process.isAlive()) {
                return true;
            }
            try {
                int status = client.send(HttpRequest.newBuilder(URI.create(registry.url() + "/v2/")).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode();
                return status == 200 || status == 401;
            } catch (IOException e) {
                return false;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        if (!up || !process.isAlive()) {
            registry.close();
            throw new IllegalStateException("docker-registry did not start:\n" + Files.readString(dir.resolve("registry.log")));
        }
        return registry;
    }

    public int port() {
        return port;
    }

    /** {@code 127.0.0.1:port}, as skopeo wants it. */
    public String host() {
        return "127.0.0.1:" + port;
    }

    public String url() {
        return "http://" + host();
    }

    /** Uploads {@code content} as a blob of {@code repo} (monolithic, over plain HTTP); its digest. */
    public String pushBlob(String repo, byte[] content) throws IOException, InterruptedException {
        String digest = "sha256:" + sha256(content);
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> session = http.send(HttpRequest.newBuilder(URI.create(url() + "/v2/" + repo + "/blobs/uploads/"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        if (session.statusCode() != 202) {
            throw new IOException("starting an upload to " + repo + ": HTTP " + session.statusCode() + " " + session.body());
        }
        URI location = URI.create(url()).resolve(session.headers().firstValue("Location").orElseThrow());
        HttpResponse<String> pushed = http.send(HttpRequest.newBuilder(URI.create(location + (location.getQuery() == null ? "?" : "&")
                        + "digest=" + digest)).PUT(HttpRequest.BodyPublishers.ofByteArray(content))
                .header("Content-Type", "application/octet-stream").build(), HttpResponse.BodyHandlers.ofString());
        if (pushed.statusCode() != 201) {
            throw new IOException("uploading " + digest + " to " + repo + ": HTTP " + pushed.statusCode() + " " + pushed.body());
        }
        return digest;
    }

    /** A one-layer OCI image of {@code layer} (any bytes) under {@code repo:tag}; the manifest's digest. */
    public String pushImage(String repo, String tag, byte[] layer) throws IOException, InterruptedException {
        byte[] config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"
                .getBytes(StandardCharsets.UTF_8);
        String configDigest = pushBlob(repo, config);
        String layerDigest = pushBlob(repo, layer);
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + configDigest
                + "\",\"size\":" + config.length + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                + "\"digest\":\"" + layerDigest + "\",\"size\":" + layer.length + "}]}").getBytes(StandardCharsets.UTF_8);
        HttpResponse<String> put = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url() + "/v2/" + repo + "/manifests/" + tag))
                .PUT(HttpRequest.BodyPublishers.ofByteArray(manifest))
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json").build(), HttpResponse.BodyHandlers.ofString());
        if (put.statusCode() != 201) {
            throw new IOException("pushing the manifest " + repo + ":" + tag + ": HTTP " + put.statusCode() + " " + put.body());
        }
        return "sha256:" + sha256(manifest);
    }

    private static String sha256(byte[] content) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(content));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public Path dir() {
        return dir;
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
            return Files.readAllLines(accessLog, StandardCharsets.UTF_8).stream()
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

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
