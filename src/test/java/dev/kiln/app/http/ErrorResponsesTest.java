package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.API_VERSION;
import static dev.kiln.app.http.Registry.OCI_MANIFEST;
import static dev.kiln.app.http.Registry.error;
import static dev.kiln.app.http.Registry.errorCode;
import static dev.kiln.app.http.Registry.pushBlob;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static dev.kiln.app.http.Registry.sha256;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** OCI error JSON and codes for malformed digests, bad content, bad names, denied pushes and lengths. */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class ErrorResponsesTest {

    private static void assertError(Response response, int status, String code) {
        response.then().statusCode(status).header(API_VERSION, "registry/2.0").contentType("application/json");
        assertEquals(code, errorCode(response), () -> response.asString());
    }

    private static void assertError(HttpResponse<byte[]> response, int status, String code) {
        assertEquals(status, response.statusCode(), () -> new String(response.body()));
        assertEquals("registry/2.0", response.headers().firstValue(API_VERSION).orElse(null));
        assertEquals(code, error(response.body()).get("code").asText());
    }

    private static Path blobFile(String digest) {
        String hex = digest.substring("sha256:".length());
        return WipeTestStore.STORE.resolve("blobs/sha256").resolve(hex.substring(0, 2)).resolve(hex);
    }

    private static long filesUnder(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).count();
        }
    }

    @Test
    void errorBodyHasTheOciShape() {
        Response response = request().get("/v2/" + repo("local", "shape") + "/blobs/" + sha256(randomBytes(4)));
        assertError(response, 404, "BLOB_UNKNOWN");
        JsonNode error = error(response.asByteArray());
        assertFalse(error.get("message").asText().isBlank());
        assertTrue(error.get("detail").isObject(), "detail names the digest: " + error);
    }

    @Test
    void malformedDigests() {
        String repo = repo("local", "baddigest");
        pushBlob(repo, randomBytes(10));
        String hex = sha256(randomBytes(3)).substring(7);
        for (String digest : new String[] {"sha256:abc", "sha256:" + hex.toUpperCase(), "md5:d41d8cd98f00b204e9800998ecf8427e",
                "sha256:" + hex + "00", "nocolon" + hex}) {
            assertError(request().get("/v2/" + repo + "/blobs/" + digest), 400, "DIGEST_INVALID");
        }
        assertError(request().contentType("application/octet-stream").body(randomBytes(5))
                .post("/v2/" + repo + "/blobs/uploads/?digest=sha256:abc"), 400, "DIGEST_INVALID");
        assertError(request().delete("/v2/" + repo + "/blobs/sha256:abc"), 400, "DIGEST_INVALID");
    }

    @Test
    void monolithicContentNotMatchingItsDigestIsNotKept() throws IOException {
        String repo = repo("local", "mismatch");
        byte[] content = randomBytes(4096);
        String claimed = sha256(randomBytes(4096));
        long tempFilesBefore = filesUnder(WipeTestStore.STORE.resolve("tmp"));

        Response response = request().contentType("application/octet-stream").body(content)
                .post("/v2/" + repo + "/blobs/uploads/?digest=" + claimed);
        assertError(response, 400, "DIGEST_INVALID");

        assertError(request().get("/v2/" + repo + "/blobs/" + claimed), 404, "BLOB_UNKNOWN");
        assertError(request().get("/v2/" + repo + "/blobs/" + sha256(content)), 404, "BLOB_UNKNOWN");
        assertFalse(Files.exists(blobFile(claimed)), "a blob file appeared for the claimed digest");
        assertFalse(Files.exists(blobFile(sha256(content))), "a blob file appeared for the content's digest");
        assertEquals(tempFilesBefore, filesUnder(WipeTestStore.STORE.resolve("tmp")), "a temp file was left behind");
    }

    @Test
    void chunkedContentNotMatchingItsDigestIsNotKept() {
        String repo = repo("local", "mismatchchunked");
        byte[] content = randomBytes(4096);
        String claimed = sha256(randomBytes(4096));
        String location = request().post("/v2/" + repo + "/blobs/uploads/").then().statusCode(202).extract().header("Location");
        request().contentType("application/octet-stream").body(content).patch(location).then().statusCode(202);
        assertError(request().put(location + "?digest=" + claimed), 400, "DIGEST_INVALID");
        assertFalse(Files.exists(blobFile(claimed)));
        assertFalse(Files.exists(blobFile(sha256(content))));
        assertError(request().get("/v2/" + repo + "/blobs/" + sha256(content)), 404, "BLOB_UNKNOWN");
        assertError(request().get(location), 404, "BLOB_UPLOAD_UNKNOWN");
    }

    @Test
    void upperCaseNameIsNameInvalid() {
        assertError(request().get("/v2/local/Upper/tags/list"), 400, "NAME_INVALID");
        assertError(request().post("/v2/local/UPPER/blobs/uploads/"), 400, "NAME_INVALID");
        assertError(request().get("/v2/local/x_Y/manifests/latest"), 400, "NAME_INVALID");
        assertError(request().get("/v2/local/A/blobs/" + sha256(randomBytes(1))), 400, "NAME_INVALID");
    }

    @Test
    void dotDotInNameIsNameInvalid() {
        // sent raw: rest-assured and most clients would normalise the path first
        HttpResponse<byte[]> tags = Registry.rawGet("/v2/local/../etc/tags/list");
        assertError(tags, 400, "NAME_INVALID");
        HttpResponse<byte[]> upload = Registry.send(HttpRequest.newBuilder(Registry.uri("/v2/local/x/../../cache/y/blobs/uploads/"))
                .POST(HttpRequest.BodyPublishers.noBody()).build());
        assertError(upload, 400, "NAME_INVALID");
        assertError(Registry.rawGet("/v2/local/x/../y/manifests/latest"), 400, "NAME_INVALID");
        assertError(Registry.rawGet("/v2/local/./y/manifests/latest"), 400, "NAME_INVALID");
    }

    @Test
    void emptyComponentsInNameAreNameInvalid() {
        assertError(Registry.rawGet("/v2/local//x/tags/list"), 400, "NAME_INVALID");
        assertError(Registry.rawGet("/v2/local/x//tags/list"), 400, "NAME_INVALID"); // trailing '/' in the name
        assertError(Registry.rawGet("/v2//local/x/tags/list"), 400, "NAME_INVALID"); // leading '/'
        HttpResponse<byte[]> upload = Registry.send(HttpRequest.newBuilder(Registry.uri("/v2/local/x//blobs/uploads/"))
                .POST(HttpRequest.BodyPublishers.noBody()).build());
        assertError(upload, 400, "NAME_INVALID");
    }

    @Test
    void otherInvalidNames() {
        assertError(request().get("/v2/local/-x/tags/list"), 400, "NAME_INVALID");
        assertError(request().get("/v2/local/x-/tags/list"), 400, "NAME_INVALID");
        assertError(request().get("/v2/local/a___b/tags/list"), 400, "NAME_INVALID");
        assertError(request().get("/v2/local/" + "a".repeat(250) + "/tags/list"), 400, "NAME_INVALID");
    }

    @Test
    void pushOutsideTheLocalNamespacesIsDenied() {
        byte[] content = randomBytes(10);
        String digest = sha256(content);
        Response upload = request().post("/v2/library/busybox/blobs/uploads/");
        assertError(upload, 403, "DENIED");
        upload.then().body("errors[0].message", containsString("cache/"))
                .body("errors[0].message", containsString("builds/"))
                .body("errors[0].message", containsString("local/"));

        assertError(request().contentType("application/octet-stream").body(content)
                .post("/v2/library/busybox/blobs/uploads/?digest=" + digest), 403, "DENIED");
        assertError(request().contentType(OCI_MANIFEST).body(Registry.utf8("{}"))
                .put("/v2/library/busybox/manifests/latest"), 403, "DENIED");
        assertError(request().delete("/v2/library/busybox/manifests/latest"), 403, "DENIED");
        assertError(request().delete("/v2/library/busybox/blobs/" + digest), 403, "DENIED");
        assertError(request().post("/v2/busybox/blobs/uploads/"), 403, "DENIED");
        assertError(request().post("/v2/quay.io/org/img/blobs/uploads/"), 403, "DENIED");

        // a local repository's blob cannot be mounted into a mirrored name either
        String local = repo("local", "mountsource");
        String mine = pushBlob(local, content);
        assertError(request().post("/v2/library/busybox/blobs/uploads/?mount=" + mine + "&from=" + local), 403, "DENIED");
    }

    @Test
    void chunkWhoseContentRangeDisagreesWithContentLengthIsSizeInvalid() {
        String repo = repo("local", "sizeinvalid");
        String location = request().post("/v2/" + repo + "/blobs/uploads/").then().statusCode(202).extract().header("Location");
        Response response = request().contentType("application/octet-stream").header("Content-Range", "0-99")
                .body(randomBytes(50)).patch(location);
        assertError(response, 400, "SIZE_INVALID");
        request().get(location).then().statusCode(204).header("Range", "0-0");
    }

    @Test
    void malformedContentRangeIsRefused() {
        String repo = repo("local", "badcontentrange");
        String location = request().post("/v2/" + repo + "/blobs/uploads/").then().statusCode(202).extract().header("Location");
        assertError(request().contentType("application/octet-stream").header("Content-Range", "ten-twenty")
                .body(randomBytes(11)).patch(location), 416, "RANGE_INVALID");
        assertError(request().contentType("application/octet-stream").header("Content-Range", "20-10")
                .body(randomBytes(11)).patch(location), 416, "RANGE_INVALID");
    }

    @Test
    void unknownEndpointIs404WithApiVersion() {
        Response response = request().get("/v2/local/x/nothing/here");
        response.then().statusCode(404).header(API_VERSION, "registry/2.0");
        error(response.asByteArray());
    }

    @Test
    void unsupportedMethodIs405() {
        String repo = repo("local", "methods");
        assertError(request().post("/v2/" + repo + "/tags/list"), 405, "UNSUPPORTED");
        assertError(request().put("/v2/" + repo + "/blobs/" + sha256(randomBytes(2))), 405, "UNSUPPORTED");
        assertError(request().delete("/v2/_catalog"), 405, "UNSUPPORTED");
    }
}
