package dev.kiln.mirror.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Plain java.net.http requests, as curl would make them. */
public final class Http {
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    private Http() {
    }

    public record Response(int status, HttpResponse<byte[]> raw) {
        public byte[] body() {
            return raw.body();
        }

        public String header(String name) {
            return raw.headers().firstValue(name).orElse(null);
        }

        public String digest() {
            return OciLayout.sha256(raw.body());
        }

        public JsonNode json() {
            try {
                return JSON.readTree(raw.body());
            } catch (IOException e) {
                throw new AssertionError("not JSON (status " + status + "): " + new String(raw.body()), e);
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

    public static final String ACCEPT_ALL = String.join(", ",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json");

    public static HttpClient client() {
        return CLIENT;
    }
}
