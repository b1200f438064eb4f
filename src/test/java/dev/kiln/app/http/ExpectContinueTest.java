package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.OCI_MANIFEST;
import static dev.kiln.app.http.Registry.imageManifest;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static dev.kiln.app.http.Registry.sha256;
import static dev.kiln.app.http.Registry.uri;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Clients such as curl (for bodies over 1 MiB), .NET and the AWS SDKs send {@code Expect: 100-continue}
 * and hold the body back until the server says to go on, or answers finally.
 */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class ExpectContinueTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    private static HttpResponse<byte[]> send(String path, String method, String contentType, byte[] body) {
        return Registry.send(HttpRequest.newBuilder(uri(path))
                .expectContinue(true)
                .timeout(TIMEOUT)
                .header("Content-Type", contentType)
                .method(method, HttpRequest.BodyPublishers.ofByteArray(body))
                .build());
    }

    @Test
    void monolithicUpload() {
        String repo = repo("local", "expectmono");
        byte[] content = randomBytes(2 << 20);
        HttpResponse<byte[]> response = send("/v2/" + repo + "/blobs/uploads/?digest=" + sha256(content), "POST",
                "application/octet-stream", content);
        assertEquals(201, response.statusCode(), () -> new String(response.body()));
        assertArrayEquals(content, Registry.rawGet("/v2/" + repo + "/blobs/" + sha256(content)).body());
    }

    @Test
    void chunkAndManifest() {
        String repo = repo("local", "expectchunk");
        byte[] content = randomBytes(1 << 20);
        String location = request().post("/v2/" + repo + "/blobs/uploads/").then().statusCode(202).extract().header("Location");
        HttpResponse<byte[]> patched = send(location, "PATCH", "application/octet-stream", content);
        assertEquals(202, patched.statusCode(), () -> new String(patched.body()));
        assertEquals("0-" + (content.length - 1), patched.headers().firstValue("Range").orElse(null));
        request().put(location + "?digest=" + sha256(content)).then().statusCode(201);

        byte[] manifest = imageManifest(repo, OCI_MANIFEST);
        HttpResponse<byte[]> put = send("/v2/" + repo + "/manifests/v1", "PUT", OCI_MANIFEST, manifest);
        assertEquals(201, put.statusCode(), () -> new String(put.body()));
        assertArrayEquals(manifest, Registry.rawGet("/v2/" + repo + "/manifests/v1").body());
    }

    @Test
    void refusalBeforeTheBodyIsAFinalAnswerAndClosesTheConnection() throws Exception {
        // raw: the JDK 17 client itself waits forever when an expectation is answered with a final status
        String answer;
        try (Socket socket = new Socket("localhost", RestAssured.port)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("POST /v2/local/NotValid/blobs/uploads/ HTTP/1.1\r\nHost: localhost\r\n"
                    + "Content-Type: application/octet-stream\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            // readAllBytes ends only when the server closes: it must not wait for a body the client holds back
            answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(answer.startsWith("HTTP/1.1 400 "), answer);
        assertTrue(answer.toLowerCase(Locale.ROOT).contains("\r\nconnection: close\r\n"), answer);
        assertTrue(answer.contains("\"NAME_INVALID\""), answer);
        assertEquals(200, Registry.rawGet("/v2/").statusCode());
    }
}
