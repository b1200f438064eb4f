package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.OCI_MANIFEST;
import static dev.kiln.app.http.Registry.imageManifest;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static dev.kiln.app.http.Registry.utf8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Hostile input on {@code /v2/}: every refusal is OCI error JSON with a code a client understands,
 * never an HTML page or a Java exception's text, and manifests that clients cannot use are refused.
 */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class HostileErrorsTest {

    private static void assertOciError(int status, String code, int actualStatus, String body) {
        assertEquals(status, actualStatus, body);
        JsonNode error = Registry.error(body.getBytes(StandardCharsets.UTF_8));
        assertEquals(code, error.get("code").asText(), body);
        assertNoJavaText(body);
    }

    private static void assertNoJavaText(String body) {
        assertFalse(body.contains("Exception") || body.contains("java.") || body.contains("\tat "), "Java text in: " + body);
    }

    private static void assertManifestInvalid(String repo, String manifest) {
        Response response = request().contentType(OCI_MANIFEST).body(utf8(manifest)).put("/v2/" + repo + "/manifests/bad");
        assertOciError(400, "MANIFEST_INVALID", response.statusCode(), response.asString());
    }

    @Test
    void aTwentyDigitContentRangeIsARangeErrorNotAnInternalOne() {
        String repo = repo("local", "hostile-range");
        String location = request().post("/v2/" + repo + "/blobs/uploads/").then().statusCode(202).extract().header("Location");
        Response response = request().header("Content-Range", "0-99999999999999999999").contentType("application/octet-stream")
                .body(new byte[] {1}).patch(location);
        assertOciError(416, "RANGE_INVALID", response.statusCode(), response.asString());
    }

    @Test
    void nullInsideLayersOrManifestsIsAnInvalidManifest() {
        String repo = repo("local", "hostile-null");
        String manifest = new String(imageManifest(repo, OCI_MANIFEST), StandardCharsets.UTF_8);
        assertManifestInvalid(repo, manifest.replace("\"layers\":[", "\"layers\":[null,"));
        Response index = request().contentType("application/vnd.oci.image.index.v1+json")
                .body(utf8("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[null]}"))
                .put("/v2/" + repo + "/manifests/idx");
        assertOciError(400, "MANIFEST_INVALID", index.statusCode(), index.asString());
    }

    @Test
    void manifestsClientsCannotUseAreRefused() {
        String repo = repo("local", "hostile-unusable");
        String manifest = new String(imageManifest(repo, OCI_MANIFEST), StandardCharsets.UTF_8);
        assertManifestInvalid(repo, "\ufeff" + manifest);
        assertManifestInvalid(repo, manifest.substring(0, manifest.length() - 1) + ",\"manifests\":[]}");
        String urlOnlyConfig = "{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":{\"mediaType\":"
                + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:" + "a".repeat(64) + "\",\"size\":2,"
                + "\"urls\":[\"https://elsewhere.invalid/config\"]},\"layers\":[]}";
        assertManifestInvalid(repo, urlOnlyConfig);
        // the same manifest without the BOM and the extra field is fine: the refusals are about them
        request().contentType(OCI_MANIFEST).body(utf8(manifest)).put("/v2/" + repo + "/manifests/good").then().statusCode(201);
    }

    @Test
    void dotSegmentsUnderV2AnswerOciJsonNotAnHtmlPage() throws Exception {
        for (String path : new String[] {"/v2/../q/health", "/v2/%2e%2e/q/metrics", "/v2/local/../../index.html"}) {
            String response = RawHttp.exchange("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 10_000);
            int status = RawHttp.status(response);
            assertTrue(status == 400 || status == 404, path + ": " + response);
            assertTrue(response.toLowerCase().contains("content-type: application/json"), path + ": " + response);
            assertNoJavaText(response);
            assertTrue(Registry.error(RawHttp.body(response).getBytes(StandardCharsets.UTF_8)).has("code"), response);
        }
    }

    @Test
    void aRequestWithoutHostIsRefusedWithAnOciError() throws Exception {
        String response = RawHttp.exchange("GET /v2/ HTTP/1.1\r\nConnection: close\r\n\r\n", 10_000);
        assertEquals(400, RawHttp.status(response), response);
        assertTrue(response.toLowerCase().contains("content-type: application/json"), response);
        assertTrue(Registry.error(RawHttp.body(response).getBytes(StandardCharsets.UTF_8)).has("code"), response);
        assertNoJavaText(response);
        // and an ordinary request still works on a fresh connection
        assertEquals(200, request().get("/v2/").statusCode());
    }
}
