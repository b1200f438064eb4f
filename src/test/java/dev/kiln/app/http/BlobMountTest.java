package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.CONTENT_DIGEST;
import static dev.kiln.app.http.Registry.errorCode;
import static dev.kiln.app.http.Registry.pushBlob;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static dev.kiln.app.http.Registry.sha256;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

/** Cross-repository mount: {@code POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>}. */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class BlobMountTest {

    @Test
    void mountFromARepositoryThatHasTheBlob() {
        String from = repo("cache", "mountsrc");
        String to = repo("builds", "mountdst");
        byte[] content = randomBytes(2048);
        String digest = pushBlob(from, content);
        request().post("/v2/" + to + "/blobs/uploads/?mount=" + digest + "&from=" + from)
                .then().statusCode(201)
                .header("Location", "/v2/" + to + "/blobs/" + digest)
                .header(CONTENT_DIGEST, digest);
        Response got = request().get("/v2/" + to + "/blobs/" + digest);
        got.then().statusCode(200);
        assertArrayEquals(content, got.asByteArray());
    }

    @Test
    void mountFromARepositoryWithoutTheBlobStartsAnUpload() {
        String from = repo("local", "mountempty");
        String to = repo("local", "mountfallback");
        pushBlob(from, randomBytes(10)); // the repository exists, but not with this blob
        byte[] content = randomBytes(4096);
        String digest = sha256(content);
        Response started = request().post("/v2/" + to + "/blobs/uploads/?mount=" + digest + "&from=" + from);
        started.then().statusCode(202)
                .header("Location", startsWith("/v2/" + to + "/blobs/uploads/"))
                .header("Range", "0-0");
        // the fresh session works
        String location = started.header("Location");
        request().contentType("application/octet-stream").body(content).put(location + "?digest=" + digest)
                .then().statusCode(201);
        request().head("/v2/" + to + "/blobs/" + digest).then().statusCode(200);
        request().head("/v2/" + from + "/blobs/" + digest).then().statusCode(404);
    }

    @Test
    void blobThatExistsElsewhereIsNotMountedFromARepositoryWithoutIt() {
        String third = repo("local", "mountthird");
        String from = repo("local", "mountclaimed");
        String to = repo("local", "mountprobe");
        byte[] content = randomBytes(512);
        String digest = pushBlob(third, content); // in the store, but not in 'from'
        pushBlob(from, randomBytes(5));
        request().post("/v2/" + to + "/blobs/uploads/?mount=" + digest + "&from=" + from)
                .then().statusCode(202).header("Location", startsWith("/v2/" + to + "/blobs/uploads/"));
        request().head("/v2/" + to + "/blobs/" + digest).then().statusCode(404);
    }

    @Test
    void mountFromAnUnknownRepositoryStartsAnUpload() {
        String to = repo("local", "mountnowhere");
        String digest = sha256(randomBytes(10));
        request().post("/v2/" + to + "/blobs/uploads/?mount=" + digest + "&from=" + repo("local", "neverpushed"))
                .then().statusCode(202).header("Location", startsWith("/v2/" + to + "/blobs/uploads/"));
        request().head("/v2/" + to + "/blobs/" + digest).then().statusCode(404);
    }

    @Test
    void mountWithoutFromStartsAnUpload() {
        String other = repo("local", "hasit");
        String to = repo("local", "mountnofrom");
        String digest = pushBlob(other, randomBytes(64));
        request().post("/v2/" + to + "/blobs/uploads/?mount=" + digest)
                .then().statusCode(202).header("Location", startsWith("/v2/" + to + "/blobs/uploads/"));
        request().head("/v2/" + to + "/blobs/" + digest).then().statusCode(404);
    }

    @Test
    void invalidFromNameIsNameInvalid() {
        String to = repo("local", "mountbadfrom");
        String digest = pushBlob(to, randomBytes(16));
        Response response = request().post("/v2/" + to + "/blobs/uploads/?mount=" + digest + "&from=Local/UPPER");
        response.then().statusCode(400);
        assertEquals("NAME_INVALID", errorCode(response));
    }

    @Test
    void malformedMountDigestIsDigestInvalid() {
        String to = repo("local", "mountbaddigest");
        Response response = request().post("/v2/" + to + "/blobs/uploads/?mount=sha256:nothex&from=" + repo("local", "x"));
        response.then().statusCode(400);
        assertEquals("DIGEST_INVALID", errorCode(response));
    }
}
