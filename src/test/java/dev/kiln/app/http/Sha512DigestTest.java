package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.CONTENT_DIGEST;
import static dev.kiln.app.http.Registry.OCI_CONFIG;
import static dev.kiln.app.http.Registry.OCI_LAYER;
import static dev.kiln.app.http.Registry.OCI_MANIFEST;
import static dev.kiln.app.http.Registry.errorCode;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static dev.kiln.app.http.Registry.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** sha512 is a registered OCI digest algorithm: blobs and manifests addressed by it work like sha256 ones. */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class Sha512DigestTest {

    static String sha512(byte[] bytes) throws Exception {
        return "sha512:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-512").digest(bytes));
    }

    private static void assertBlob(String repo, String digest, byte[] content) {
        Response got = request().get("/v2/" + repo + "/blobs/" + digest);
        got.then().statusCode(200).header(CONTENT_DIGEST, digest);
        assertArrayEquals(content, got.asByteArray());
    }

    @Test
    void monolithicAndChunkedUploads() throws Exception {
        String repo = repo("local", "sha512");
        byte[] mono = randomBytes(3000);
        request().contentType("application/octet-stream").body(mono).post("/v2/" + repo + "/blobs/uploads/?digest=" + sha512(mono))
                .then().statusCode(201).header(CONTENT_DIGEST, sha512(mono));
        assertBlob(repo, sha512(mono), mono);

        byte[] chunked = randomBytes(5000);
        String location = request().post("/v2/" + repo + "/blobs/uploads/").then().statusCode(202).extract().header("Location");
        request().contentType("application/octet-stream").body(chunked).patch(location).then().statusCode(202);
        request().put(location + "?digest=" + sha512(chunked)).then().statusCode(201).header(CONTENT_DIGEST, sha512(chunked));
        assertBlob(repo, sha512(chunked), chunked);
    }

    @Test
    void wrongSha512IsDigestInvalid() throws Exception {
        String repo = repo("local", "sha512wrong");
        byte[] content = randomBytes(100);
        Response response = request().contentType("application/octet-stream").body(content)
                .post("/v2/" + repo + "/blobs/uploads/?digest=" + sha512(randomBytes(100)));
        response.then().statusCode(400);
        assertEquals("DIGEST_INVALID", errorCode(response));
        request().head("/v2/" + repo + "/blobs/" + sha512(content)).then().statusCode(404);
    }

    @Test
    void manifestPushedBySha512Digest() throws Exception {
        String repo = repo("local", "sha512manifest");
        byte[] config = utf8("{}");
        byte[] layer = randomBytes(200);
        for (byte[] blob : new byte[][] {config, layer}) {
            request().contentType("application/octet-stream").body(blob).post("/v2/" + repo + "/blobs/uploads/?digest=" + sha512(blob))
                    .then().statusCode(201);
        }
        byte[] manifest = utf8("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\","
                + "\"config\":{\"mediaType\":\"" + OCI_CONFIG + "\",\"digest\":\"" + sha512(config) + "\",\"size\":2},"
                + "\"layers\":[{\"mediaType\":\"" + OCI_LAYER + "\",\"digest\":\"" + sha512(layer) + "\",\"size\":200}]}");
        String digest = sha512(manifest);
        request().contentType(OCI_MANIFEST).body(manifest).put("/v2/" + repo + "/manifests/" + digest)
                .then().statusCode(201).header(CONTENT_DIGEST, digest).header("Location", "/v2/" + repo + "/manifests/" + digest);
        Response got = request().get("/v2/" + repo + "/manifests/" + digest);
        got.then().statusCode(200).header(CONTENT_DIGEST, digest).header("Content-Type", OCI_MANIFEST);
        assertArrayEquals(manifest, got.asByteArray());
        request().delete("/v2/" + repo + "/manifests/" + digest).then().statusCode(202);
        request().get("/v2/" + repo + "/manifests/" + digest).then().statusCode(404);
    }
}
