package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.API_VERSION;
import static dev.kiln.app.http.Registry.CONTENT_DIGEST;
import static dev.kiln.app.http.Registry.errorCode;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static dev.kiln.app.http.Registry.sha256;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.matchesPattern;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import io.restassured.RestAssured;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Every way of uploading a blob: monolithic, POST + PUT, chunked, streamed, resumed, cancelled. */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class BlobUploadTest {

    private static String startUpload(String repo) {
        Response started = request().post("/v2/" + repo + "/blobs/uploads/");
        started.then().statusCode(202)
                .header(API_VERSION, "registry/2.0")
                .header("Location", startsWith("/v2/" + repo + "/blobs/uploads/"))
                .header("Range", "0-0")
                .header("Docker-Upload-UUID", matchesPattern("[0-9a-f-]{36}"));
        String location = started.header("Location");
        assertEquals(started.header("Docker-Upload-UUID"), location.substring(location.lastIndexOf('/') + 1));
        return location;
    }

    private static void assertBlob(String repo, String digest, byte[] content) {
        Response got = request().get("/v2/" + repo + "/blobs/" + digest);
        got.then().statusCode(200)
                .header(CONTENT_DIGEST, digest)
                .header("Content-Length", String.valueOf(content.length));
        assertArrayEquals(content, got.asByteArray());
    }

    @Test
    void monolithicPostWithDigest() {
        String repo = repo("local", "mono");
        byte[] content = randomBytes(5000);
        String digest = sha256(content);
        request().contentType("application/octet-stream").body(content)
                .post("/v2/" + repo + "/blobs/uploads/?digest=" + digest)
                .then().statusCode(201)
                .header("Location", "/v2/" + repo + "/blobs/" + digest)
                .header(CONTENT_DIGEST, digest)
                .header(API_VERSION, "registry/2.0");
        assertBlob(repo, digest, content);
    }

    @Test
    void monolithicEmptyBlob() {
        String repo = repo("local", "empty");
        byte[] content = new byte[0];
        String digest = sha256(content);
        request().contentType("application/octet-stream").body(content)
                .post("/v2/" + repo + "/blobs/uploads/?digest=" + digest)
                .then().statusCode(201);
        request().head("/v2/" + repo + "/blobs/" + digest).then().statusCode(200).header("Content-Length", "0");
    }

    @Test
    void postThenPutWithBody() {
        String repo = repo("local", "postput");
        byte[] content = randomBytes(7000);
        String digest = sha256(content);
        String location = startUpload(repo);
        request().contentType("application/octet-stream").body(content)
                .put(location + "?digest=" + digest)
                .then().statusCode(201)
                .header("Location", "/v2/" + repo + "/blobs/" + digest)
                .header(CONTENT_DIGEST, digest);
        assertBlob(repo, digest, content);
        // the session is gone once committed
        request().get(location).then().statusCode(404);
    }

    @Test
    void chunkedPatchesWithContentRangeThenPut() {
        String repo = repo("cache", "chunked");
        byte[] content = randomBytes(3 * 4096 + 17);
        String digest = sha256(content);
        String location = startUpload(repo);
        int[] bounds = {0, 4096, 8192, content.length};
        for (int i = 0; i < bounds.length - 1; i++) {
            byte[] chunk = Arrays.copyOfRange(content, bounds[i], bounds[i + 1]);
            Response patched = request().contentType("application/octet-stream")
                    .header("Content-Range", bounds[i] + "-" + (bounds[i + 1] - 1))
                    .body(chunk)
                    .patch(location);
            patched.then().statusCode(202)
                    .header("Range", "0-" + (bounds[i + 1] - 1))
                    .header("Location", startsWith("/v2/" + repo + "/blobs/uploads/"))
                    .header("Docker-Upload-UUID", location.substring(location.lastIndexOf('/') + 1));
            location = patched.header("Location");
        }
        request().put(location + "?digest=" + digest).then().statusCode(201).header(CONTENT_DIGEST, digest);
        assertBlob(repo, digest, content);
    }

    @Test
    void lastChunkMayTravelWithThePut() {
        String repo = repo("local", "lastchunk");
        byte[] content = randomBytes(6000);
        String digest = sha256(content);
        String location = startUpload(repo);
        request().contentType("application/octet-stream").header("Content-Range", "0-3999")
                .body(Arrays.copyOfRange(content, 0, 4000)).patch(location).then().statusCode(202).header("Range", "0-3999");
        request().contentType("application/octet-stream").header("Content-Range", "4000-5999")
                .body(Arrays.copyOfRange(content, 4000, 6000))
                .put(location + "?digest=" + digest).then().statusCode(201).header(CONTENT_DIGEST, digest);
        assertBlob(repo, digest, content);
    }

    @Test
    void streamedPatchWithoutContentRange() {
        String repo = repo("builds", "streamed");
        byte[] content = randomBytes(100_000);
        String digest = sha256(content);
        String location = startUpload(repo);
        request().contentType("application/octet-stream").body(content).patch(location)
                .then().statusCode(202).header("Range", "0-99999");
        request().put(location + "?digest=" + digest).then().statusCode(201);
        assertBlob(repo, digest, content);
    }

    @Test
    void outOfOrderChunkIsRefusedWithWhereToResume() {
        String repo = repo("local", "ooo");
        byte[] content = randomBytes(3000);
        String location = startUpload(repo);
        String id = location.substring(location.lastIndexOf('/') + 1);
        request().contentType("application/octet-stream").header("Content-Range", "0-999")
                .body(Arrays.copyOfRange(content, 0, 1000)).patch(location).then().statusCode(202);

        Response skipped = request().contentType("application/octet-stream").header("Content-Range", "2000-2999")
                .body(Arrays.copyOfRange(content, 2000, 3000)).patch(location);
        skipped.then().statusCode(416)
                .header("Range", "0-999")
                .header("Location", "/v2/" + repo + "/blobs/uploads/" + id)
                .header(API_VERSION, "registry/2.0");
        assertEquals("RANGE_INVALID", errorCode(skipped));

        // the refused chunk left the session as it was: resume where the registry said
        request().get(location).then().statusCode(204).header("Range", "0-999");
        request().contentType("application/octet-stream").header("Content-Range", "1000-2999")
                .body(Arrays.copyOfRange(content, 1000, 3000)).patch(location).then().statusCode(202).header("Range", "0-2999");
        request().put(location + "?digest=" + sha256(content)).then().statusCode(201);
        assertBlob(repo, sha256(content), content);
    }

    @Test
    void interruptedChunkKeepsWhatArrivedAndTheUploadResumes() throws Exception {
        String repo = repo("local", "resume");
        byte[] content = randomBytes(400_000);
        String location = startUpload(repo);
        // the client promises the whole blob but goes away after the first half
        try (Socket socket = new Socket("localhost", RestAssured.port)) {
            OutputStream out = socket.getOutputStream();
            out.write(("PATCH " + location + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
                    + "Content-Length: " + content.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(content, 0, 200_000);
            out.flush();
            socket.shutdownOutput();
            socket.setSoTimeout(10_000);
            socket.getInputStream().readAllBytes();
        }
        String range = null;
        for (int i = 0; i < 100 && !"0-199999".equals(range); i++) {
            Thread.sleep(50);
            range = request().get(location).then().statusCode(204).extract().header("Range");
        }
        assertEquals("0-199999", range, "the bytes that arrived are kept");

        request().contentType("application/octet-stream").header("Content-Range", "200000-399999")
                .body(Arrays.copyOfRange(content, 200_000, 400_000)).patch(location)
                .then().statusCode(202).header("Range", "0-399999");
        request().put(location + "?digest=" + sha256(content)).then().statusCode(201);
        assertBlob(repo, sha256(content), content);
    }

    @Test
    void uploadStatus() {
        String repo = repo("local", "status");
        String location = startUpload(repo);
        String id = location.substring(location.lastIndexOf('/') + 1);
        request().contentType("application/octet-stream").body(randomBytes(1234)).patch(location).then().statusCode(202);
        request().get(location).then().statusCode(204)
                .header("Range", "0-1233")
                .header("Docker-Upload-UUID", id)
                .header("Location", "/v2/" + repo + "/blobs/uploads/" + id)
                .header(API_VERSION, "registry/2.0");
    }

    @Test
    void cancelledUploadIsGone() {
        String repo = repo("local", "cancel");
        String location = startUpload(repo);
        request().contentType("application/octet-stream").body(randomBytes(100)).patch(location).then().statusCode(202);
        request().delete(location).then().statusCode(204);
        Response status = request().get(location);
        status.then().statusCode(404).header(API_VERSION, "registry/2.0");
        assertEquals("BLOB_UPLOAD_UNKNOWN", errorCode(status));
        Response patch = request().contentType("application/octet-stream").body(randomBytes(10)).patch(location);
        patch.then().statusCode(404);
        assertEquals("BLOB_UPLOAD_UNKNOWN", errorCode(patch));
    }

    @Test
    void uploadIdOfAnotherRepositoryIsUnknown() {
        String repo = repo("local", "owner");
        String other = repo("local", "thief");
        String location = startUpload(repo);
        String id = location.substring(location.lastIndexOf('/') + 1);
        String foreign = "/v2/" + other + "/blobs/uploads/" + id;
        byte[] content = randomBytes(10);

        Response status = request().get(foreign);
        status.then().statusCode(404);
        assertEquals("BLOB_UPLOAD_UNKNOWN", errorCode(status));
        Response patch = request().contentType("application/octet-stream").body(content).patch(foreign);
        patch.then().statusCode(404);
        assertEquals("BLOB_UPLOAD_UNKNOWN", errorCode(patch));
        Response put = request().contentType("application/octet-stream").body(content).put(foreign + "?digest=" + sha256(content));
        put.then().statusCode(404);
        assertEquals("BLOB_UPLOAD_UNKNOWN", errorCode(put));
        Response delete = request().delete(foreign);
        delete.then().statusCode(404);
        assertEquals("BLOB_UPLOAD_UNKNOWN", errorCode(delete));

        // the owner's session is untouched
        request().get(location).then().statusCode(204).header("Range", "0-0");
        request().head("/v2/" + other + "/blobs/" + sha256(content)).then().statusCode(404);
    }

    @Test
    void unknownUploadIdIs404() {
        String repo = repo("local", "nosession");
        Response status = request().get("/v2/" + repo + "/blobs/uploads/00000000-0000-0000-0000-000000000000");
        status.then().statusCode(404);
        assertEquals("BLOB_UPLOAD_UNKNOWN", errorCode(status));
        Response garbage = request().get("/v2/" + repo + "/blobs/uploads/not-an-id");
        garbage.then().statusCode(404);
        assertEquals("BLOB_UPLOAD_UNKNOWN", errorCode(garbage));
    }

    @Test
    void putWithWrongDigestIsRefusedAndSessionDiscarded() {
        String repo = repo("local", "wrongput");
        byte[] content = randomBytes(500);
        String wrong = sha256(randomBytes(501));
        String location = startUpload(repo);
        request().contentType("application/octet-stream").body(content).patch(location).then().statusCode(202);
        Response put = request().put(location + "?digest=" + wrong);
        put.then().statusCode(400).header(API_VERSION, "registry/2.0");
        assertEquals("DIGEST_INVALID", errorCode(put));
        request().head("/v2/" + repo + "/blobs/" + wrong).then().statusCode(404);
        request().head("/v2/" + repo + "/blobs/" + sha256(content)).then().statusCode(404);
    }

    @Test
    void putWithoutDigestIsDigestInvalid() {
        String repo = repo("local", "nodigest");
        String location = startUpload(repo);
        Response put = request().put(location);
        put.then().statusCode(400);
        assertEquals("DIGEST_INVALID", errorCode(put));
    }

    @Test
    void chunkMinLengthIsAdvertised() {
        request().post("/v2/" + repo("local", "minlen") + "/blobs/uploads/")
                .then().statusCode(202).header("OCI-Chunk-Min-Length", equalTo("0"));
    }
}
