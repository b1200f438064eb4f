package dev.kiln.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * HTTP as curl would do it, with {@link HttpClient} (rest-assured is far too slow for layer-sized
 * bodies). The static methods take absolute URLs and answer a {@link Response} that reads OCI error
 * bodies; an instance ({@link #at(String)}) resolves paths against one server and does blob uploads,
 * every call returning the last response (an upload that gets 201 was acknowledged).
 */
public final class Http {
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Every manifest type Kiln serves, for an Accept header. */
    public static final String ACCEPT_ALL = String.join(", ",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json");

    public record Response(int status, HttpResponse<byte[]> raw) {
        public byte[] body() {
            return raw.body();
        }

        public String header(String name) {
            return raw.headers().firstValue(name).orElse(null);
        }

        public String digest() {
            return TestImages.sha256(raw.body());
        }

        public JsonNode json() {
            try {
                return JSON.readTree(raw.body());
            } catch (IOException e) {
                throw new AssertionError("not JSON (status " + status + "): " + new String(raw.body(), StandardCharsets.UTF_8), e);
            }
        }

        /** The first OCI error code of an error body. */
        public String errorCode() {
            return json().path("errors").path(0).path("code").asText(null);
        }

        public String errorMessage() {
            return json().path("errors").path(0).path("message").asText(null);
        }
    }

    /** GET (or another method without body) with header name/value pairs; throws on a broken transfer. */
    public static Response send(String method, String url, String... headers) throws IOException {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .method(method, HttpRequest.BodyPublishers.noBody());
        for (int i = 0; i + 1 < headers.length; i += 2) {
            builder.header(headers[i], headers[i + 1]);
        }
        try {
            HttpResponse<byte[]> response = CLIENT.send(builder.build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Response(response.statusCode(), response);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    public static Response get(String url, String... headers) throws IOException {
        return send("GET", url, headers);
    }

    /** Like {@link #get} for calls that must not fail at the transport level. */
    public static Response must(String url, String... headers) {
        try {
            return get(url, headers);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A client's pull through the registry API: the manifest by tag, then every blob it names, each
     * checked against its digest. Returns the digests (manifest first); throws when an answer is not 200
     * or its bytes do not match.
     */
    public static java.util.List<String> pull(String baseUrl, String repository, String tag) throws IOException {
        Response manifest = get(baseUrl + "/v2/" + repository + "/manifests/" + tag, "Accept", ACCEPT_ALL);
        if (manifest.status() != 200) {
            throw new IOException("manifest " + repository + ":" + tag + " from " + baseUrl + ": " + manifest.status());
        }
        java.util.List<String> verified = new java.util.ArrayList<>(java.util.List.of(manifest.digest()));
        JsonNode json = manifest.json();
        java.util.List<JsonNode> descriptors = new java.util.ArrayList<>(java.util.List.of(json.get("config")));
        json.get("layers").forEach(descriptors::add);
        for (JsonNode descriptor : descriptors) {
            String digest = descriptor.get("digest").asText();
            Response blob = get(baseUrl + "/v2/" + repository + "/blobs/" + digest);
            if (blob.status() != 200 || !digest.equals(blob.digest())) {
                throw new IOException("blob " + digest + " from " + baseUrl + ": " + blob.status() + ", hashing to " + blob.digest());
            }
            verified.add(digest);
        }
        return verified;
    }

    /** The shared client, for streaming responses. */
    public static HttpClient client() {
        return CLIENT;
    }

    private final URI base;
    private final HttpClient client;
    private final Duration timeout;

    /** Requests against {@code baseUrl} (e.g. {@code kiln.baseUrl()}), each allowed 120 s. */
    public static Http at(String baseUrl) {
        return new Http(baseUrl, Duration.ofSeconds(120));
    }

    /** Requests against {@code baseUrl}, each allowed {@code timeout}. */
    public static Http at(String baseUrl, Duration timeout) {
        return new Http(baseUrl, timeout);
    }

    private Http(String baseUrl, Duration timeout) {
        this.base = URI.create(baseUrl + "/");
        this.timeout = timeout;
        this.client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    /** {@code POST /v2/<repo>/blobs/uploads/?digest=} with the whole blob and its Content-Length. */
    public HttpResponse<String> monolithic(String repo, byte[] data) throws IOException, InterruptedException {
        return monolithic(repo, data, TestImages.sha256(data));
    }

    public HttpResponse<String> monolithic(String repo, byte[] data, String digest) throws IOException, InterruptedException {
        return request(HttpRequest.newBuilder(url("v2/" + repo + "/blobs/uploads/?digest=" + digest))
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(data)));
    }

    /**
     * {@code POST} a session, {@code PATCH} the blob in chunks of {@code chunkSize} with Content-Range,
     * then {@code PUT ?digest=} without body. Returns the first answer that is not 202, else the PUT's.
     */
    public HttpResponse<String> chunked(String repo, byte[] data, int chunkSize) throws IOException, InterruptedException {
        return chunked(repo, data, chunkSize, location -> { });
    }

    /** As {@link #chunked(String, byte[], int)}, telling {@code session} the upload's Location once it is open. */
    public HttpResponse<String> chunked(String repo, byte[] data, int chunkSize, Consumer<String> session)
            throws IOException, InterruptedException {
        HttpResponse<String> start = request(HttpRequest.newBuilder(url("v2/" + repo + "/blobs/uploads/"))
                .POST(HttpRequest.BodyPublishers.noBody()));
        if (start.statusCode() != 202) {
            return start;
        }
        String location = start.headers().firstValue("Location").orElseThrow();
        session.accept(location);
        for (int offset = 0; offset < data.length; offset += chunkSize) {
            int end = Math.min(data.length, offset + chunkSize);
            HttpResponse<String> patch = request(HttpRequest.newBuilder(url(location))
                    .header("Content-Type", "application/octet-stream")
                    .header("Content-Range", offset + "-" + (end - 1))
                    .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(Arrays.copyOfRange(data, offset, end))));
            if (patch.statusCode() != 202) {
                return patch;
            }
            location = patch.headers().firstValue("Location").orElse(location);
        }
        String separator = location.contains("?") ? "&" : "?";
        return request(HttpRequest.newBuilder(url(location + separator + "digest=" + TestImages.sha256(data)))
                .PUT(HttpRequest.BodyPublishers.noBody()));
    }

    public HttpResponse<byte[]> getBlob(String repo, String digest) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(url("v2/" + repo + "/blobs/" + digest)).timeout(timeout).GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    public HttpResponse<String> getText(String path) throws IOException, InterruptedException {
        return request(HttpRequest.newBuilder(url(path)).GET());
    }

    public HttpResponse<String> head(String path) throws IOException, InterruptedException {
        return request(HttpRequest.newBuilder(url(path)).method("HEAD", HttpRequest.BodyPublishers.noBody()));
    }

    public HttpResponse<String> request(HttpRequest.Builder request) throws IOException, InterruptedException {
        return client.send(request.timeout(timeout).build(), HttpResponse.BodyHandlers.ofString());
    }

    public URI url(String pathOrLocation) {
        String relative = pathOrLocation.startsWith("/") ? pathOrLocation.substring(1) : pathOrLocation;
        return pathOrLocation.startsWith("http") ? URI.create(pathOrLocation) : base.resolve(relative);
    }
}
