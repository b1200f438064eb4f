package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.API_VERSION;
import static dev.kiln.app.http.Registry.DOCKER_MANIFEST;
import static dev.kiln.app.http.Registry.OCI_CONFIG;
import static dev.kiln.app.http.Registry.OCI_INDEX;
import static dev.kiln.app.http.Registry.OCI_LAYER;
import static dev.kiln.app.http.Registry.OCI_MANIFEST;
import static dev.kiln.app.http.Registry.descriptor;
import static dev.kiln.app.http.Registry.error;
import static dev.kiln.app.http.Registry.errorCode;
import static dev.kiln.app.http.Registry.imageManifest;
import static dev.kiln.app.http.Registry.pushBlob;
import static dev.kiln.app.http.Registry.pushManifest;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static dev.kiln.app.http.Registry.sha256;
import static dev.kiln.app.http.Registry.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Manifests the registry must refuse, each with its error code, and that nothing of them is kept. */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class ManifestValidationTest {
    private static final int LIMIT = 4 * 1024 * 1024;

    private static Response put(String repo, String reference, String type, byte[] body) {
        return request().contentType(type).body(body).put("/v2/" + repo + "/manifests/" + reference);
    }

    private static void assertRefused(Response response, int status, String code) {
        response.then().statusCode(status).header(API_VERSION, "registry/2.0").contentType("application/json");
        assertEquals(code, errorCode(response));
    }

    private static void assertNotKept(String repo, String reference) {
        request().get("/v2/" + repo + "/manifests/" + reference).then().statusCode(404);
    }

    @Test
    void putByDigestThatDoesNotMatchTheBody() {
        String repo = repo("local", "wrongdigest");
        byte[] body = imageManifest(repo, OCI_MANIFEST);
        String claimed = sha256(utf8("something else"));
        Response response = put(repo, claimed, OCI_MANIFEST, body);
        assertRefused(response, 400, "DIGEST_INVALID");
        assertNotKept(repo, claimed);
        assertNotKept(repo, sha256(body));
    }

    @Test
    void malformedDigestReference() {
        String repo = repo("local", "baddigestref");
        byte[] body = imageManifest(repo, OCI_MANIFEST);
        assertRefused(put(repo, "sha256:1234", OCI_MANIFEST, body), 400, "DIGEST_INVALID");
        assertRefused(request().get("/v2/" + repo + "/manifests/sha256:XYZ"), 400, "DIGEST_INVALID");
    }

    @Test
    void invalidTag() {
        String repo = repo("local", "badtag");
        byte[] body = imageManifest(repo, OCI_MANIFEST);
        assertRefused(put(repo, "-dash", OCI_MANIFEST, body), 400, "MANIFEST_INVALID");
        assertRefused(put(repo, "x".repeat(129), OCI_MANIFEST, body), 400, "MANIFEST_INVALID");
        pushManifest(repo, "x".repeat(128), OCI_MANIFEST, body);
    }

    /** A valid manifest padded with trailing whitespace to exactly {@code size} bytes. */
    private static byte[] paddedTo(byte[] manifest, int size) {
        byte[] padded = Arrays.copyOf(manifest, size);
        Arrays.fill(padded, manifest.length, size, (byte) ' ');
        return padded;
    }

    private static HttpResponse<byte[]> putRaw(String repo, String reference, byte[] body) {
        return Registry.send(HttpRequest.newBuilder(Registry.uri("/v2/" + repo + "/manifests/" + reference))
                .header("Content-Type", OCI_MANIFEST)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build());
    }

    @Test
    void manifestOverFourMebibytesIs413() {
        String repo = repo("local", "huge");
        byte[] body = paddedTo(imageManifest(repo, OCI_MANIFEST), LIMIT + 1);
        HttpResponse<byte[]> response = putRaw(repo, "huge", body);
        assertEquals(413, response.statusCode());
        assertEquals("registry/2.0", response.headers().firstValue(API_VERSION).orElse(null));
        assertEquals("SIZE_INVALID", error(response.body()).get("code").asText());
        assertNotKept(repo, "huge");
        assertNotKept(repo, sha256(body));
    }

    @Test
    void manifestOfExactlyFourMebibytesIsAccepted() {
        String repo = repo("local", "fourmib");
        byte[] body = paddedTo(imageManifest(repo, OCI_MANIFEST), LIMIT);
        HttpResponse<byte[]> response = putRaw(repo, "big", body);
        assertEquals(201, response.statusCode(), () -> new String(response.body()));
        assertEquals(sha256(body), response.headers().firstValue(Registry.CONTENT_DIGEST).orElse(null));
        HttpResponse<byte[]> got = Registry.rawGet("/v2/" + repo + "/manifests/big");
        assertEquals(200, got.statusCode());
        assertArrayEquals(body, got.body());
    }

    @Test
    void missingLayerIsManifestBlobUnknown() {
        String repo = repo("local", "nolayer");
        byte[] config = utf8("{}");
        pushBlob(repo, config);
        byte[] body = utf8("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":" + descriptor(OCI_CONFIG, config)
                + ",\"layers\":[" + descriptor(OCI_LAYER, randomBytes(100)) + "]}");
        Response response = put(repo, "t", OCI_MANIFEST, body);
        assertRefused(response, 400, "MANIFEST_BLOB_UNKNOWN");
        assertNotKept(repo, "t");
    }

    @Test
    void missingConfigIsManifestBlobUnknown() {
        String repo = repo("local", "noconfig");
        byte[] layer = randomBytes(100);
        pushBlob(repo, layer);
        byte[] body = utf8("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":" + descriptor(OCI_CONFIG, utf8("{\"a\":1}"))
                + ",\"layers\":[" + descriptor(OCI_LAYER, layer) + "]}");
        assertRefused(put(repo, "t", OCI_MANIFEST, body), 400, "MANIFEST_BLOB_UNKNOWN");
        assertNotKept(repo, sha256(body));
    }

    @Test
    void blobOnlyInAnotherRepositoryIsManifestBlobUnknown() {
        String owner = repo("local", "blobowner");
        String repo = repo("local", "blobborrower");
        byte[] body = imageManifest(owner, OCI_MANIFEST); // blobs pushed to owner only
        pushBlob(repo, randomBytes(3));
        assertRefused(put(repo, "t", OCI_MANIFEST, body), 400, "MANIFEST_BLOB_UNKNOWN");
        pushManifest(owner, "t", OCI_MANIFEST, body);
    }

    @Test
    void indexWithUnknownChildManifestIsManifestBlobUnknown() {
        String repo = repo("local", "indexorphan");
        byte[] known = imageManifest(repo, OCI_MANIFEST);
        pushManifest(repo, sha256(known), OCI_MANIFEST, known);
        byte[] unknown = imageManifest(repo, OCI_MANIFEST); // its blobs are there, the manifest itself is not
        byte[] index = utf8("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_INDEX + "\",\"manifests\":["
                + descriptor(OCI_MANIFEST, known) + "," + descriptor(OCI_MANIFEST, unknown) + "]}");
        assertRefused(put(repo, "multi", OCI_INDEX, index), 400, "MANIFEST_BLOB_UNKNOWN");
        assertNotKept(repo, "multi");

        // a child that exists only as a blob is not a manifest either
        pushBlob(repo, unknown);
        assertRefused(put(repo, "multi", OCI_INDEX, index), 400, "MANIFEST_BLOB_UNKNOWN");

        pushManifest(repo, sha256(unknown), OCI_MANIFEST, unknown);
        pushManifest(repo, "multi", OCI_INDEX, index);
    }

    @Test
    void brokenJsonIsManifestInvalid() {
        String repo = repo("local", "brokenjson");
        for (String body : new String[] {"{\"schemaVersion\":2,", "not json", "[1,2]", ""}) {
            Response response = put(repo, "t", OCI_MANIFEST, utf8(body));
            assertRefused(response, 400, "MANIFEST_INVALID");
        }
        assertNotKept(repo, "t");
    }

    @Test
    void trailingGarbageAfterTheJsonIsManifestInvalid() {
        String repo = repo("local", "trailing");
        byte[] valid = imageManifest(repo, OCI_MANIFEST);
        for (String garbage : new String[] {"}", " {}", "x", "\n[]"}) {
            byte[] body = Arrays.copyOf(valid, valid.length + garbage.length());
            System.arraycopy(utf8(garbage), 0, body, valid.length, garbage.length());
            assertRefused(put(repo, "t", OCI_MANIFEST, body), 400, "MANIFEST_INVALID");
            assertNotKept(repo, sha256(body));
        }
        assertNotKept(repo, "t");
        pushManifest(repo, "t", OCI_MANIFEST, valid);
    }

    @Test
    void structurallyWrongManifestIsManifestInvalid() {
        String repo = repo("local", "wrongshape");
        byte[] config = utf8("{}");
        pushBlob(repo, config);
        String cfg = descriptor(OCI_CONFIG, config);
        String[] bodies = {
                "{\"schemaVersion\":1,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":" + cfg + ",\"layers\":[]}",
                "{\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":" + cfg + ",\"layers\":[]}",
                "{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"layers\":[]}",
                "{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":" + cfg + ",\"layers\":{}}",
                "{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":" + cfg
                        + ",\"layers\":[{\"mediaType\":\"x\",\"size\":1,\"digest\":\"sha256:nothex\"}]}",
        };
        for (String body : bodies) {
            assertRefused(put(repo, "t", OCI_MANIFEST, utf8(body)), 400, "MANIFEST_INVALID");
        }
        assertNotKept(repo, "t");
    }

    @Test
    void mediaTypeFieldContradictingContentTypeIsManifestInvalid() {
        String repo = repo("local", "contradiction");
        byte[] body = imageManifest(repo, OCI_MANIFEST);
        Response response = put(repo, "t", DOCKER_MANIFEST, body);
        assertRefused(response, 400, "MANIFEST_INVALID");
        assertNotKept(repo, "t");
        assertNotKept(repo, sha256(body));
    }

    @Test
    void unsupportedMediaTypeIsManifestInvalid() {
        String repo = repo("local", "unsupportedtype");
        byte[] config = utf8("{}");
        pushBlob(repo, config);
        byte[] body = utf8("{\"schemaVersion\":2,\"config\":" + descriptor(OCI_CONFIG, config) + ",\"layers\":[]}");
        assertRefused(put(repo, "t", "application/json", body), 400, "MANIFEST_INVALID");
        assertNotKept(repo, "t");
    }
}
