package dev.kiln.app.http;

import static dev.kiln.app.http.BasicAuthTest.assertUnauthorized;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static dev.kiln.app.http.Registry.sha256;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

/** With {@code kiln.anonymous-pull=false}, every request needs a valid user. */
@QuarkusTest
@TestProfile(HtpasswdProfile.NoAnonymousPull.class)
@WithTestResource(WipeTestStore.class)
class BasicAuthNoAnonymousPullTest {

    @Test
    void anonymousReadsAreUnauthorized() {
        String auth = HtpasswdProfile.valid();
        String repo = repo("local", "privateread");
        byte[] content = randomBytes(50);
        String digest = sha256(content);
        request().header("Authorization", auth).contentType("application/octet-stream").body(content)
                .post("/v2/" + repo + "/blobs/uploads/?digest=" + digest).then().statusCode(201);

        assertUnauthorized(request().get("/v2/"));
        assertUnauthorized(request().get("/v2/" + repo + "/blobs/" + digest));
        request().head("/v2/" + repo + "/blobs/" + digest).then().statusCode(401).header("WWW-Authenticate", org.hamcrest.Matchers.startsWith("Basic"));
        assertUnauthorized(request().get("/v2/" + repo + "/tags/list"));
        assertUnauthorized(request().get("/v2/_catalog"));

        request().header("Authorization", auth).get("/v2/").then().statusCode(200);
        Response got = request().header("Authorization", auth).get("/v2/" + repo + "/blobs/" + digest);
        got.then().statusCode(200);
        assertArrayEquals(content, got.asByteArray());
    }

    @Test
    void theDashboardNeedsAUserToo() {
        for (String path : new String[] {"/", "/dashboard/dashboard.js", "/api/v1/summary"}) {
            request().get(path).then().statusCode(401).header("WWW-Authenticate", org.hamcrest.Matchers.startsWith("Basic"));
            request().header("Authorization", HtpasswdProfile.valid()).get(path).then().statusCode(200);
        }
    }

    @Test
    void anonymousWritesAreStillUnauthorized() {
        assertUnauthorized(request().post("/v2/" + repo("local", "privatewrite") + "/blobs/uploads/"));
    }
}
