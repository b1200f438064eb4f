package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.API_VERSION;
import static dev.kiln.app.http.Registry.CONTENT_DIGEST;
import static dev.kiln.app.http.Registry.OCI_MANIFEST;
import static dev.kiln.app.http.Registry.errorCode;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static dev.kiln.app.http.Registry.sha256;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

/** With an htpasswd file and anonymous pulls (the default): reads are open, writes need a valid user. */
@QuarkusTest
@TestProfile(HtpasswdProfile.class)
@WithTestResource(WipeTestStore.class)
class BasicAuthTest {

    static void assertUnauthorized(Response response) {
        response.then().statusCode(401)
                .header("WWW-Authenticate", startsWith("Basic realm="))
                .header(API_VERSION, "registry/2.0");
        assertEquals("UNAUTHORIZED", errorCode(response));
    }

    private static String pushAsAlice(String repo, byte[] content) {
        String digest = sha256(content);
        request().header("Authorization", HtpasswdProfile.valid()).contentType("application/octet-stream").body(content)
                .post("/v2/" + repo + "/blobs/uploads/?digest=" + digest)
                .then().statusCode(201).header(CONTENT_DIGEST, digest);
        return digest;
    }

    @Test
    void anonymousPingIsChallengedSoClientsLearnToAuthenticate() {
        // docker and containers/image read the challenge only on GET /v2/: answering 200 there would
        // keep them from ever sending the credentials they have
        assertUnauthorized(request().get("/v2/"));
        assertUnauthorized(request().header("Authorization", HtpasswdProfile.basic("", "")).get("/v2/"));
        request().header("Authorization", HtpasswdProfile.valid()).get("/v2/").then().statusCode(200);
    }

    @Test
    void emptyBasicCredentialsCountAsAnonymous() {
        // containers/image sends "Basic Og==" (":") after a Basic challenge when it has no credentials
        String repo = repo("local", "authempty");
        byte[] content = randomBytes(20);
        String digest = pushAsAlice(repo, content);
        String empty = HtpasswdProfile.basic("", "");
        request().header("Authorization", empty).get("/v2/" + repo + "/blobs/" + digest).then().statusCode(200);
        assertUnauthorized(request().header("Authorization", empty).post("/v2/" + repo + "/blobs/uploads/"));
    }

    @Test
    void anonymousReadsWork() {
        String repo = repo("local", "authread");
        byte[] content = randomBytes(100);
        String digest = pushAsAlice(repo, content);
        Response got = request().get("/v2/" + repo + "/blobs/" + digest);
        got.then().statusCode(200);
        assertArrayEquals(content, got.asByteArray());
        request().head("/v2/" + repo + "/blobs/" + digest).then().statusCode(200);
        request().get("/v2/" + repo + "/tags/list").then().statusCode(200);
        request().get("/v2/_catalog").then().statusCode(200);
    }

    @Test
    void anonymousWritesAreUnauthorized() {
        String repo = repo("local", "authanon");
        byte[] content = randomBytes(10);
        String digest = pushAsAlice(repo, content);
        assertUnauthorized(request().post("/v2/" + repo + "/blobs/uploads/"));
        assertUnauthorized(request().contentType("application/octet-stream").body(randomBytes(5))
                .post("/v2/" + repo + "/blobs/uploads/?digest=" + sha256(randomBytes(5))));
        assertUnauthorized(request().contentType(OCI_MANIFEST).body(Registry.utf8("{}")).put("/v2/" + repo + "/manifests/x"));
        assertUnauthorized(request().delete("/v2/" + repo + "/blobs/" + digest));
        assertUnauthorized(request().delete("/v2/" + repo + "/manifests/x"));
        // nothing changed
        request().head("/v2/" + repo + "/blobs/" + digest).then().statusCode(200);
    }

    @Test
    void anonymousCannotTouchAnUploadSession() {
        String repo = repo("local", "authsession");
        String location = request().header("Authorization", HtpasswdProfile.valid()).post("/v2/" + repo + "/blobs/uploads/")
                .then().statusCode(202).extract().header("Location");
        assertUnauthorized(request().contentType("application/octet-stream").body(randomBytes(5)).patch(location));
        assertUnauthorized(request().delete(location));
        request().header("Authorization", HtpasswdProfile.valid()).get(location).then().statusCode(204).header("Range", "0-0");
    }

    @Test
    void wrongCredentialsAreUnauthorized() {
        String repo = repo("local", "authwrong");
        assertUnauthorized(request().header("Authorization", HtpasswdProfile.basic(HtpasswdProfile.USER, "wrong"))
                .post("/v2/" + repo + "/blobs/uploads/"));
        assertUnauthorized(request().header("Authorization", HtpasswdProfile.basic("mallory", HtpasswdProfile.PASSWORD))
                .post("/v2/" + repo + "/blobs/uploads/"));
        assertUnauthorized(request().header("Authorization", "Basic not-base64!").post("/v2/" + repo + "/blobs/uploads/"));
        assertUnauthorized(request().header("Authorization", "Bearer abc").post("/v2/" + repo + "/blobs/uploads/"));
        // credentials that are sent are checked, even where none are needed
        assertUnauthorized(request().header("Authorization", HtpasswdProfile.basic(HtpasswdProfile.USER, "wrong")).get("/v2/"));
    }

    @Test
    void validCredentialsPush() {
        String repo = repo("local", "authpush");
        String auth = HtpasswdProfile.valid();
        byte[] config = Registry.utf8("{}");
        byte[] layer = randomBytes(300);
        pushAsAlice(repo, config);
        String location = request().header("Authorization", auth).post("/v2/" + repo + "/blobs/uploads/")
                .then().statusCode(202).extract().header("Location");
        request().header("Authorization", auth).contentType("application/octet-stream").body(layer).patch(location)
                .then().statusCode(202);
        request().header("Authorization", auth).put(location + "?digest=" + sha256(layer)).then().statusCode(201);
        byte[] manifest = Registry.utf8("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":"
                + Registry.descriptor(Registry.OCI_CONFIG, config) + ",\"layers\":[" + Registry.descriptor(Registry.OCI_LAYER, layer) + "]}");
        request().header("Authorization", auth).contentType(OCI_MANIFEST).body(manifest).put("/v2/" + repo + "/manifests/v1")
                .then().statusCode(201).header(CONTENT_DIGEST, sha256(manifest));
        Response got = request().get("/v2/" + repo + "/manifests/v1");
        got.then().statusCode(200);
        assertArrayEquals(manifest, got.asByteArray());
        request().header("Authorization", auth).delete("/v2/" + repo + "/manifests/v1").then().statusCode(202);
    }
}
