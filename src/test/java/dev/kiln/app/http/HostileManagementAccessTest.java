package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.request;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/** With anonymous pulls off, /q/ needs a user too, except the two probes the Kubernetes manifests point the kubelet at. */
@QuarkusTest
@TestProfile(HtpasswdProfile.NoAnonymousPull.class)
@WithTestResource(WipeTestStore.class)
class HostileManagementAccessTest {

    @Test
    void metricsAndHealthDetailsNeedCredentialsButTheProbesDoNot() {
        request().get("/q/metrics").then().statusCode(401).header("WWW-Authenticate", org.hamcrest.Matchers.startsWith("Basic"));
        request().get("/q/health").then().statusCode(401);
        request().get("/q/../q/metrics").then().statusCode(401);
        request().header("Authorization", HtpasswdProfile.basic(HtpasswdProfile.USER, "wrong")).get("/q/metrics").then().statusCode(401);
        request().header("Authorization", HtpasswdProfile.valid()).get("/q/metrics").then().statusCode(200);
        request().header("Authorization", HtpasswdProfile.valid()).get("/q/health").then().statusCode(200);
        request().get("/q/health/live").then().statusCode(200);
        request().get("/q/health/ready").then().statusCode(200);
    }
}
