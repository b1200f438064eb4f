package dev.kiln.app.http;

import static dev.kiln.app.http.BuildApi.context;
import static dev.kiln.app.http.BuildApi.host;
import static dev.kiln.app.http.BuildApi.tarGz;
import static dev.kiln.app.http.Registry.request;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** With an htpasswd file, every build operation needs a user, and the build pushes into the gateway as that user. */
@QuarkusTest
@TestProfile(HtpasswdProfile.class)
@WithTestResource(WipeTestStore.class)
class BuildApiAuthTest {

    private static void assertUnauthorized(Response response) {
        response.then().statusCode(401)
                .header("WWW-Authenticate", startsWith("Basic realm="))
                .contentType("application/problem+json")
                .body("type", equalTo("/api/v1/problems/unauthorized"))
                .body("status", equalTo(401));
    }

    @Test
    void submittingListingReadingAndCancellingNeedCredentials() {
        String wrong = HtpasswdProfile.basic(HtpasswdProfile.USER, "wrong");
        assertUnauthorized(request().contentType("application/gzip").body(new byte[] {1, 2, 3}).post("/api/v1/builds"));
        assertUnauthorized(request().header("Authorization", wrong).get("/api/v1/builds"));
        assertUnauthorized(request().get("/api/v1/builds"));
        assertUnauthorized(request().get("/api/v1/builds/0123456789abcdef0123"));
        assertUnauthorized(request().get("/api/v1/builds/0123456789abcdef0123/log"));
        assertUnauthorized(request().delete("/api/v1/builds/0123456789abcdef0123"));
        request().get("/api/v1/openapi.yaml").then().statusCode(200);
        request().header("Authorization", HtpasswdProfile.valid()).get("/api/v1/builds").then().statusCode(200);
    }

    @Test
    void buildPushesIntoTheGatewayWithTheSubmittersCredentials() throws Exception {
        Path ctx = context(Path.of("target", "build-api-auth-test"), "FROM scratch\nCOPY a.txt /a.txt\n", Map.of("a.txt", "a\n"));
        String repo = "local/gw-auth-" + UUID.randomUUID().toString().substring(0, 6);
        String id = request().header("Authorization", HtpasswdProfile.valid()).contentType("application/gzip")
                .body(tarGz(ctx)).post("/api/v1/builds?destination=" + host() + "/" + repo + ":1")
                .then().statusCode(202).extract().path("id");
        BuildApi.Events events = BuildApi.follow(id, Map.of("Authorization", HtpasswdProfile.valid()));
        assertEquals("succeeded", events.end().get("state").asText(), events.text());
        request().get("/v2/" + repo + "/manifests/1").then().statusCode(200);

        // the dashboard is open like a pull, but shows a build only to its submitter
        request().get("/").then().statusCode(200).contentType(org.hamcrest.Matchers.startsWith("text/html"));
        java.util.List<String> anonymous = request().get("/api/v1/summary").then().statusCode(200).extract().path("builds.recent.id");
        assertTrue(!anonymous.contains(id), "an anonymous caller sees no one's builds: " + anonymous);
        java.util.List<String> alices = request().header("Authorization", HtpasswdProfile.valid()).get("/api/v1/summary")
                .then().statusCode(200).extract().path("builds.recent.id");
        assertTrue(alices.contains(id), "alice sees her build: " + alices);
        request().header("Authorization", HtpasswdProfile.basic(HtpasswdProfile.USER, "wrong")).get("/").then().statusCode(401);
    }
}
