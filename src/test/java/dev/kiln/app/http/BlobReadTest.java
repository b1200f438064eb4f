package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.API_VERSION;
import static dev.kiln.app.http.Registry.CONTENT_DIGEST;
import static dev.kiln.app.http.Registry.errorCode;
import static dev.kiln.app.http.Registry.pushBlob;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Reading blobs: GET, HEAD, byte ranges, deletion, and that a blob belongs to the repositories that have it. */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class BlobReadTest {
    private static final int SIZE = 10_000;

    @Test
    void getReturnsTheBytesWithDigestAndLength() {
        String repo = repo("local", "get");
        byte[] content = randomBytes(SIZE);
        String digest = pushBlob(repo, content);
        Response got = request().get("/v2/" + repo + "/blobs/" + digest);
        got.then().statusCode(200)
                .header(CONTENT_DIGEST, digest)
                .header("Content-Length", String.valueOf(SIZE))
                .header(API_VERSION, "registry/2.0");
        assertArrayEquals(content, got.asByteArray());
    }

    @Test
    void headReturnsHeadersWithoutBody() {
        String repo = repo("local", "head");
        byte[] content = randomBytes(SIZE);
        String digest = pushBlob(repo, content);
        Response head = request().head("/v2/" + repo + "/blobs/" + digest);
        head.then().statusCode(200)
                .header(CONTENT_DIGEST, digest)
                .header("Content-Length", String.valueOf(SIZE))
                .header(API_VERSION, "registry/2.0");
        assertEquals(0, head.asByteArray().length);
    }

    private static void assertRange(String repo, String digest, byte[] content, String range, int start, int end) {
        Response got = request().header("Range", range).get("/v2/" + repo + "/blobs/" + digest);
        got.then().statusCode(206)
                .header("Content-Range", "bytes " + start + "-" + end + "/" + content.length)
                .header("Content-Length", String.valueOf(end - start + 1))
                .header(CONTENT_DIGEST, digest);
        assertArrayEquals(Arrays.copyOfRange(content, start, end + 1), got.asByteArray(), range);
    }

    @Test
    void rangeRequestsAnswer206() {
        String repo = repo("local", "range");
        byte[] content = randomBytes(SIZE);
        String digest = pushBlob(repo, content);
        assertRange(repo, digest, content, "bytes=100-199", 100, 199);
        assertRange(repo, digest, content, "bytes=0-0", 0, 0);
        assertRange(repo, digest, content, "Bytes=200-299", 200, 299); // units are case-insensitive
        assertRange(repo, digest, content, "bytes=9000-", 9000, SIZE - 1);
        assertRange(repo, digest, content, "bytes=-500", SIZE - 500, SIZE - 1);
        assertRange(repo, digest, content, "bytes=9990-20000", 9990, SIZE - 1); // end clamped to the blob
        assertRange(repo, digest, content, "bytes=-20000", 0, SIZE - 1); // suffix longer than the blob
    }

    @Test
    void unsatisfiableRangeAnswers416WithTheSize() {
        String repo = repo("local", "badrange");
        byte[] content = randomBytes(SIZE);
        String digest = pushBlob(repo, content);
        for (String range : new String[] {"bytes=10000-", "bytes=20000-30000", "bytes=500-100", "bytes=-0"}) {
            Response got = request().header("Range", range).get("/v2/" + repo + "/blobs/" + digest);
            got.then().statusCode(416)
                    .header("Content-Range", "bytes */" + SIZE)
                    .header(API_VERSION, "registry/2.0");
            assertEquals("RANGE_INVALID", errorCode(got), range);
        }
    }

    @Test
    void rangeInAnUnknownUnitIsIgnored() {
        // RFC 9110 section 14.2: a server must ignore a Range header in a unit it does not understand
        String repo = repo("local", "unitrange");
        byte[] content = randomBytes(SIZE);
        String digest = pushBlob(repo, content);
        Response got = request().header("Range", "items=0-1").get("/v2/" + repo + "/blobs/" + digest);
        got.then().statusCode(200).header("Content-Length", String.valueOf(SIZE));
        assertArrayEquals(content, got.asByteArray());
    }

    @Test
    void deletedBlobIsGone() {
        String repo = repo("local", "delete");
        String digest = pushBlob(repo, randomBytes(100));
        request().delete("/v2/" + repo + "/blobs/" + digest).then().statusCode(202).header(API_VERSION, "registry/2.0");
        Response got = request().get("/v2/" + repo + "/blobs/" + digest);
        got.then().statusCode(404);
        assertEquals("BLOB_UNKNOWN", errorCode(got));
        request().head("/v2/" + repo + "/blobs/" + digest).then().statusCode(404);
        Response again = request().delete("/v2/" + repo + "/blobs/" + digest);
        again.then().statusCode(404);
        assertEquals("BLOB_UNKNOWN", errorCode(again));
    }

    @Test
    void deletingFromOneRepositoryLeavesTheOthers() {
        String a = repo("local", "dela");
        String b = repo("local", "delb");
        byte[] content = randomBytes(100);
        String digest = pushBlob(a, content);
        pushBlob(b, content);
        request().delete("/v2/" + a + "/blobs/" + digest).then().statusCode(202);
        request().head("/v2/" + a + "/blobs/" + digest).then().statusCode(404);
        Response got = request().get("/v2/" + b + "/blobs/" + digest);
        got.then().statusCode(200);
        assertArrayEquals(content, got.asByteArray());
    }

    @Test
    void blobOfAnotherRepositoryIsNotReadableUntilMounted() {
        String a = repo("local", "owner");
        String b = repo("local", "stranger");
        byte[] content = randomBytes(300);
        String digest = pushBlob(a, content);

        Response get = request().get("/v2/" + b + "/blobs/" + digest);
        get.then().statusCode(404);
        assertEquals("BLOB_UNKNOWN", errorCode(get));
        request().head("/v2/" + b + "/blobs/" + digest).then().statusCode(404);

        request().post("/v2/" + b + "/blobs/uploads/?mount=" + digest + "&from=" + a).then().statusCode(201);
        Response mounted = request().get("/v2/" + b + "/blobs/" + digest);
        mounted.then().statusCode(200).header(CONTENT_DIGEST, digest);
        assertArrayEquals(content, mounted.asByteArray());
    }

    @Test
    void unknownBlobIs404BlobUnknown() {
        String repo = repo("local", "unknown");
        pushBlob(repo, randomBytes(10));
        String digest = Registry.sha256(randomBytes(11));
        Response got = request().get("/v2/" + repo + "/blobs/" + digest);
        got.then().statusCode(404).header(API_VERSION, "registry/2.0");
        assertEquals("BLOB_UNKNOWN", errorCode(got));
        request().head("/v2/" + repo + "/blobs/" + digest).then().statusCode(404).header(API_VERSION, "registry/2.0");
    }
}
