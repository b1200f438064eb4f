package dev.kiln.app.http;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.restassured.RestAssured;
import io.restassured.config.EncoderConfig;
import io.restassured.config.RestAssuredConfig;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.UUID;

/** What the HTTP tests share: unique names, digests, a raw client, and pushing blobs and manifests. */
final class Registry {
    static final String API_VERSION = "Docker-Distribution-API-Version";
    static final String CONTENT_DIGEST = "Docker-Content-Digest";
    static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    static final String OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
    static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
    static final String DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    static final ObjectMapper JSON = new ObjectMapper();

    /** Sends exactly the Content-Type given, without rest-assured's default charset parameter. */
    private static final RestAssuredConfig RAW = RestAssured.config()
            .encoderConfig(EncoderConfig.encoderConfig().appendDefaultContentCharsetToContentTypeIfUndefined(false));

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private Registry() {
    }

    static RequestSpecification request() {
        return given().config(RAW);
    }

    /** A repository name nobody else uses, under the local namespace {@code namespace}. */
    static String repo(String namespace, String purpose) {
        return namespace + "/" + purpose.toLowerCase(Locale.ROOT) + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    static String sha256(byte[] bytes) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] randomBytes(int size) {
        byte[] bytes = new byte[size];
        new java.util.Random(size * 31L + System.nanoTime()).nextBytes(bytes);
        return bytes;
    }

    static URI uri(String rawPathAndQuery) {
        return URI.create("http://localhost:" + RestAssured.port + rawPathAndQuery);
    }

    /** The JDK client: sends the path exactly as written (no normalisation) and handles big bodies quickly. */
    static HttpClient http() {
        return HTTP;
    }

    static HttpResponse<byte[]> send(HttpRequest request) {
        try {
            return HTTP.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static HttpResponse<byte[]> rawGet(String rawPath) {
        return send(HttpRequest.newBuilder(uri(rawPath)).GET().build());
    }

    static JsonNode json(byte[] body) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The single error of an OCI error body, checked for shape: {@code {"errors":[{"code","message",…}]}}. */
    static JsonNode error(byte[] body) {
        JsonNode root = json(body);
        assertNotNull(root.get("errors"), "no errors array in " + new String(body, StandardCharsets.UTF_8));
        assertEquals(1, root.get("errors").size(), "expected one error in " + root);
        JsonNode error = root.get("errors").get(0);
        assertNotNull(error.get("code"), "error without code: " + root);
        assertNotNull(error.get("message"), "error without message: " + root);
        return error;
    }

    static String errorCode(Response response) {
        return error(response.asByteArray()).get("code").asText();
    }

    /** Pushes {@code content} to {@code repo} in one request and returns its digest. */
    static String pushBlob(String repo, byte[] content) {
        String digest = sha256(content);
        request().contentType("application/octet-stream").body(content)
                .post("/v2/" + repo + "/blobs/uploads/?digest=" + digest)
                .then().statusCode(201).header(CONTENT_DIGEST, digest);
        return digest;
    }

    /** Pushes a manifest by tag or digest and returns the digest the registry reports. */
    static String pushManifest(String repo, String reference, String mediaType, byte[] body) {
        Response response = request().contentType(mediaType).body(body).put("/v2/" + repo + "/manifests/" + reference);
        response.then().statusCode(201);
        return response.header(CONTENT_DIGEST);
    }

    static String descriptor(String mediaType, byte[] content) {
        return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"" + sha256(content) + "\",\"size\":" + content.length + "}";
    }

    /** An image manifest of {@code type} (OCI or Docker) whose config and one layer are pushed to {@code repo} first. */
    static byte[] imageManifest(String repo, String type) {
        boolean oci = type.equals(OCI_MANIFEST);
        byte[] config = utf8("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"n\":\""
                + UUID.randomUUID() + "\"}");
        byte[] layer = randomBytes(1000);
        pushBlob(repo, config);
        pushBlob(repo, layer);
        return utf8("{\"schemaVersion\":2,\"mediaType\":\"" + type + "\",\"config\":"
                + descriptor(oci ? OCI_CONFIG : DOCKER_CONFIG, config) + ",\"layers\":["
                + descriptor(oci ? OCI_LAYER : DOCKER_LAYER, layer) + "]}");
    }
}
