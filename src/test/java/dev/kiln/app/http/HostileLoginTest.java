package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.errorCode;
import static dev.kiln.app.http.Registry.request;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

/**
 * A wrong-password flood is cut off after a few attempts with 429 and Retry-After, before bcrypt
 * runs, while a user whose credentials were verified recently keeps working. (Its effect on latency
 * is measured in docs/benchmarks.md; this pins the behaviour.)
 */
@QuarkusTest
@TestProfile(UsersProfile.class)
@WithTestResource(WipeTestStore.class)
class HostileLoginTest {

    @Test
    void failuresPastTheLimitAreRefusedWithRetryAfterAndAVerifiedUserKeepsWorking() {
        request().header("Authorization", UsersProfile.basic("alice")).get("/v2/").then().statusCode(200);
        for (int i = 0; i < UsersProfile.MAX_FAILURES; i++) {
            Response wrong = request().header("Authorization", HtpasswdProfile.basic("alice", "guess" + i)).get("/v2/");
            assertEquals(401, wrong.statusCode(), wrong.asString());
        }
        Response limited = request().header("Authorization", HtpasswdProfile.basic("alice", "guess-more")).get("/v2/_catalog");
        assertEquals(429, limited.statusCode(), limited.asString());
        assertEquals("TOOMANYREQUESTS", errorCode(limited));
        assertTrue(Integer.parseInt(limited.header("Retry-After")) >= 1, limited.headers().toString());
        // the same client naming a user that does not exist is refused the same way: nothing tells the names apart
        Response unknown = request().header("Authorization", HtpasswdProfile.basic("mallory", "x")).get("/v2/");
        assertEquals(429, unknown.statusCode(), unknown.asString());
        // alice's own client, verified a moment ago, is not locked out by the flood against her name
        request().header("Authorization", UsersProfile.basic("alice")).get("/v2/").then().statusCode(200);
        // the build API refuses in its own format
        request().header("Authorization", HtpasswdProfile.basic("bob", "nope")).get("/api/v1/builds").then().statusCode(429)
                .contentType("application/problem+json").header("Retry-After", org.hamcrest.Matchers.notNullValue())
                .body("type", equalTo("/api/v1/problems/too-many-requests"));
    }
}
