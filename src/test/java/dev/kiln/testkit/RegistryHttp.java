package dev.kiln.testkit;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Blob uploads and reads with {@link HttpClient} (rest-assured is far too slow for layer-sized
 * bodies). Every call returns the last response; an upload that gets 201 was acknowledged.
 */
public final class RegistryHttp {
    private final URI base;
    private final HttpClient client;
    private final Duration timeout;

    public RegistryHttp(String baseUrl) {
        this(baseUrl, Duration.ofSeconds(120));
    }

    public RegistryHttp(String baseUrl, Duration timeout) {
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
        return send(HttpRequest.newBuilder(url("v2/" + repo + "/blobs/uploads/?digest=" + digest))
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
        HttpResponse<String> start = send(HttpRequest.newBuilder(url("v2/" + repo + "/blobs/uploads/"))
                .POST(HttpRequest.BodyPublishers.noBody()));
        if (start.statusCode() != 202) {
            return start;
        }
        String location = start.headers().firstValue("Location").orElseThrow();
        session.accept(location);
        for (int offset = 0; offset < data.length; offset += chunkSize) {
            int end = Math.min(data.length, offset + chunkSize);
            HttpResponse<String> patch = send(HttpRequest.newBuilder(url(location))
                    .header("Content-Type", "application/octet-stream")
                    .header("Content-Range", offset + "-" + (end - 1))
                    .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(Arrays.copyOfRange(data, offset, end))));
            if (patch.statusCode() != 202) {
                return patch;
            }
            location = patch.headers().firstValue("Location").orElse(location);
        }
        String separator = location.contains("?") ? "&" : "?";
        return send(HttpRequest.newBuilder(url(location + separator + "digest=" + TestImages.sha256(data)))
                .PUT(HttpRequest.BodyPublishers.noBody()));
    }

    public HttpResponse<byte[]> getBlob(String repo, String digest) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(url("v2/" + repo + "/blobs/" + digest)).timeout(timeout).GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(url(path)).GET());
    }

    public HttpResponse<String> head(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(url(path)).method("HEAD", HttpRequest.BodyPublishers.noBody()));
    }

    public HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
        return client.send(request.timeout(timeout).build(), HttpResponse.BodyHandlers.ofString());
    }

    public URI url(String pathOrLocation) {
        String relative = pathOrLocation.startsWith("/") ? pathOrLocation.substring(1) : pathOrLocation;
        return pathOrLocation.startsWith("http") ? URI.create(pathOrLocation) : base.resolve(relative);
    }
}
