package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.API_VERSION;
import static dev.kiln.app.http.Registry.request;
import static org.hamcrest.Matchers.equalTo;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

@QuarkusTest
@WithTestResource(WipeTestStore.class)
class PingTest {

    @Test
    void baseEndpointAnswers200WithApiVersion() {
        request().get("/v2/").then().statusCode(200).header(API_VERSION, equalTo("registry/2.0"));
    }

    @Test
    void baseEndpointWithoutTrailingSlashAnswersToo() {
        request().get("/v2").then().statusCode(200).header(API_VERSION, equalTo("registry/2.0"));
    }

    @Test
    void headOnBaseEndpoint() {
        request().head("/v2/").then().statusCode(200).header(API_VERSION, equalTo("registry/2.0"));
    }
}
