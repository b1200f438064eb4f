package dev.kiln.app.http;

import static dev.kiln.app.http.BuildApi.context;
import static dev.kiln.app.http.BuildApi.host;
import static dev.kiln.app.http.BuildApi.tarGz;
import static dev.kiln.app.http.Registry.request;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Builds belong to their submitter: another user can neither see, read the log of, nor cancel one,
 * and is answered 404 as if it did not exist; an admin sees all. A build may push with the gateway's
 * credentials only where the operator allows that user.
 */
@QuarkusTest
@TestProfile(UsersProfile.Tenants.class)
@WithTestResource(WipeTestStore.class)
class HostileTenancyTest {
    private static final Path WORK = Path.of("target", "hostile-tenancy-test");

    private static void assertNotFound(Response response) {
        response.then().statusCode(404).contentType("application/problem+json")
                .body("type", equalTo("/api/v1/problems/build-not-found"));
    }

    @Test
    void anotherUsersBuildIsInvisibleAndAnAdminSeesIt() throws Exception {
        Path ctx = context(WORK, "FROM scratch\nARG TOKEN\nCOPY a.txt /a.txt\n", Map.of("a.txt", "a\n"));
        String alice = UsersProfile.basic("alice");
        String id = request().header("Authorization", alice).contentType("application/gzip").body(tarGz(ctx))
                .post("/api/v1/builds?buildArg=TOKEN=hunter2&destination=" + host() + "/local/tenancy-" + UUID.randomUUID().toString().substring(0, 6) + ":1")
                .then().statusCode(202).extract().path("id");
        BuildApi.Events events = BuildApi.follow(id, Map.of("Authorization", alice));
        assertEquals("succeeded", events.end().get("state").asText(), events.text());

        String bob = UsersProfile.basic("bob");
        assertNotFound(request().header("Authorization", bob).get("/api/v1/builds/" + id));
        assertNotFound(request().header("Authorization", bob).get("/api/v1/builds/" + id + "/log"));
        assertNotFound(request().header("Authorization", bob).delete("/api/v1/builds/" + id));
        String bobsList = request().header("Authorization", bob).get("/api/v1/builds").then().statusCode(200).extract().asString();
        assertFalse(bobsList.contains(id) || bobsList.contains("hunter2"), bobsList);
        // a made-up id answers exactly the same: bob cannot tell that alice's exists
        assertNotFound(request().header("Authorization", bob).get("/api/v1/builds/0123456789abcdef0123"));

        request().header("Authorization", alice).get("/api/v1/builds/" + id).then().statusCode(200)
                .body("spec.buildArgs.TOKEN", equalTo("hunter2"));
        String alicesList = request().header("Authorization", alice).get("/api/v1/builds").then().statusCode(200).extract().asString();
        assertTrue(alicesList.contains(id), alicesList);
        request().header("Authorization", UsersProfile.basic("carol")).get("/api/v1/builds/" + id).then().statusCode(200);
        request().header("Authorization", UsersProfile.basic("carol")).get("/api/v1/builds/" + id + "/log").then().statusCode(200);
    }

    @Test
    void aDestinationOutsideTheGatewayNeedsTheOperatorsLeave() throws Exception {
        Path ctx = context(WORK, "FROM scratch\nCOPY a.txt /a.txt\n", Map.of("a.txt", "a\n"));
        // the test configuration allows 127.0.0.1:*/pushed/** for everyone; private/ is not
        request().header("Authorization", UsersProfile.basic("alice")).contentType("application/gzip").body(tarGz(ctx))
                .post("/api/v1/builds?destination=127.0.0.1:9/private/app:1")
                .then().statusCode(403).contentType("application/problem+json")
                .body("type", equalTo("/api/v1/problems/destination-not-allowed"));
        request().header("Authorization", UsersProfile.basic("alice")).contentType("application/json")
                .body("{\"context\":\"https://127.0.0.1:9/ctx.tar.gz\",\"destinations\":[\"127.0.0.1:9/private/app:1\"]}")
                .post("/api/v1/builds").then().statusCode(403)
                .body("type", equalTo("/api/v1/problems/destination-not-allowed"));
    }
}
