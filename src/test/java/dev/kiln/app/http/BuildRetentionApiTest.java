package dev.kiln.app.http;

import static dev.kiln.app.http.BuildApi.awaitEnd;
import static dev.kiln.app.http.BuildApi.context;
import static dev.kiln.app.http.BuildApi.tarGz;
import static dev.kiln.app.http.Registry.request;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A gateway that keeps one finished build: the build before it is pruned when the next one ends, and its id
 * then answers exactly as an id that never existed.
 */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
@TestProfile(BuildRetentionApiTest.KeepOne.class)
class BuildRetentionApiTest {
    private static final Path WORK = Path.of("target", "build-retention-api-test");

    public static class KeepOne implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("kiln.builds.retention.max-finished", "1");
        }
    }

    private static String build(String text) throws Exception {
        Path ctx = context(WORK, "FROM scratch\nCOPY hello.txt /hello.txt\n", Map.of("hello.txt", text));
        String id = request().contentType("application/gzip").body(tarGz(ctx)).post("/api/v1/builds")
                .then().statusCode(202).extract().path("id");
        awaitEnd(id);
        return id;
    }

    @Test
    void aPrunedBuildAnswersAsAnUnknownIdAndLeavesTheList() throws Exception {
        String first = build("first\n");
        request().get("/api/v1/builds").then().statusCode(200).body("builds.id", hasItem(first));
        String second = build("second\n");

        Response pruned = request().get("/api/v1/builds/" + first);
        Response unknown = request().get("/api/v1/builds/" + "0".repeat(20));
        for (Response r : new Response[] {pruned, unknown}) {
            r.then().statusCode(404).contentType("application/problem+json")
                    .body("type", equalTo("/api/v1/problems/build-not-found")).body("status", equalTo(404));
        }
        request().get("/api/v1/builds/" + first + "/log").then().statusCode(404)
                .body("type", equalTo("/api/v1/problems/build-not-found"));
        request().get("/api/v1/builds").then().statusCode(200)
                .body("builds.id", hasItem(second)).body("builds.id", not(hasItem(first)));
        assertFalse(Files.exists(BuildApi.BUILDS.resolve(first)), "the pruned build's directory is gone");
        assertTrue(Files.isRegularFile(BuildApi.BUILDS.resolve(second).resolve("build.json")));
        request().get("/q/metrics").then().statusCode(200)
                .body(org.hamcrest.Matchers.containsString("\nkiln_builds_pruned_total 1.0\n"));
    }
}
