package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.API_VERSION;
import static dev.kiln.app.http.Registry.CONTENT_DIGEST;
import static dev.kiln.app.http.Registry.DOCKER_CONFIG;
import static dev.kiln.app.http.Registry.DOCKER_LAYER;
import static dev.kiln.app.http.Registry.DOCKER_LIST;
import static dev.kiln.app.http.Registry.DOCKER_MANIFEST;
import static dev.kiln.app.http.Registry.OCI_CONFIG;
import static dev.kiln.app.http.Registry.OCI_INDEX;
import static dev.kiln.app.http.Registry.OCI_LAYER;
import static dev.kiln.app.http.Registry.OCI_MANIFEST;
import static dev.kiln.app.http.Registry.errorCode;
import static dev.kiln.app.http.Registry.imageManifest;
import static dev.kiln.app.http.Registry.pushBlob;
import static dev.kiln.app.http.Registry.pushManifest;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static dev.kiln.app.http.Registry.sha256;
import static dev.kiln.app.http.Registry.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Manifests of every supported media type, by tag and by digest: stored and served as the exact bytes
 * pushed, with the Content-Type they were pushed with, and the digest of those bytes.
 */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class ManifestTest {

    /** An image manifest with unusual key order and whitespace, so any re-serialisation would show. */
    private static byte[] oddImageManifest(String repo, String type, String configType, String layerType) {
        byte[] config = utf8("{\"os\":\"linux\",\"architecture\":\"arm64\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"id\":\""
                + java.util.UUID.randomUUID() + "\"}");
        byte[] layer = randomBytes(777);
        pushBlob(repo, config);
        pushBlob(repo, layer);
        return utf8("{\n   \"layers\" : [ {\"size\": " + layer.length + ",  \"digest\":\"" + sha256(layer) + "\",\n\t\"mediaType\":\""
                + layerType + "\"} ],\r\n  \"config\":{\"digest\":\"" + sha256(config) + "\",\"size\":" + config.length
                + ",\"mediaType\":\"" + configType + "\"},\n  \"mediaType\":  \"" + type + "\",\n  \"schemaVersion\":2 ,"
                + "\"annotations\":{\"z\":\"last\",\"a\":\"first \\u00e9\"}\n}\n\n");
    }

    /** An index (OCI or Docker list) over two image manifests pushed to {@code repo} by digest first. */
    private static byte[] oddIndex(String repo, String type, String childType) {
        StringBuilder children = new StringBuilder();
        String[] arch = {"amd64", "arm64"};
        for (int i = 0; i < 2; i++) {
            byte[] child = imageManifest(repo, childType);
            pushManifest(repo, sha256(child), childType, child);
            children.append(i == 0 ? "" : " ,\n    ")
                    .append("{ \"platform\": {\"os\":\"linux\", \"architecture\":\"").append(arch[i]).append("\"},")
                    .append("\"mediaType\":\"").append(childType).append("\",\"size\":").append(child.length)
                    .append(",\"digest\":\"").append(sha256(child)).append("\"}");
        }
        return utf8("{ \"manifests\": [\n    " + children + "\n  ],\n\"schemaVersion\":   2,\n  \"mediaType\": \"" + type + "\"   }");
    }

    private static void assertServed(String repo, String reference, String type, byte[] body) {
        String digest = sha256(body);
        Response got = request().get("/v2/" + repo + "/manifests/" + reference);
        got.then().statusCode(200)
                .header("Content-Type", type)
                .header(CONTENT_DIGEST, digest)
                .header("Content-Length", String.valueOf(body.length))
                .header(API_VERSION, "registry/2.0");
        assertArrayEquals(body, got.asByteArray(), "the manifest must come back byte for byte");

        Response head = request().head("/v2/" + repo + "/manifests/" + reference);
        head.then().statusCode(200)
                .header("Content-Type", type)
                .header(CONTENT_DIGEST, digest)
                .header("Content-Length", String.valueOf(body.length));
        assertEquals(0, head.asByteArray().length);
    }

    private static void assertGone(String repo, String reference) {
        Response got = request().get("/v2/" + repo + "/manifests/" + reference);
        got.then().statusCode(404).header(API_VERSION, "registry/2.0");
        assertEquals("MANIFEST_UNKNOWN", errorCode(got));
        request().head("/v2/" + repo + "/manifests/" + reference).then().statusCode(404);
    }

    private static void roundTrip(String repo, String type, byte[] body) {
        String digest = sha256(body);
        request().contentType(type).body(body).put("/v2/" + repo + "/manifests/v1")
                .then().statusCode(201)
                .header("Location", "/v2/" + repo + "/manifests/" + digest)
                .header(CONTENT_DIGEST, digest)
                .header(API_VERSION, "registry/2.0");
        assertServed(repo, "v1", type, body);
        assertServed(repo, digest, type, body);

        // the same bytes again by digest: idempotent
        request().contentType(type).body(body).put("/v2/" + repo + "/manifests/" + digest)
                .then().statusCode(201)
                .header("Location", "/v2/" + repo + "/manifests/" + digest)
                .header(CONTENT_DIGEST, digest);
        assertServed(repo, digest, type, body);

        // deleting the tag only untags
        request().delete("/v2/" + repo + "/manifests/v1").then().statusCode(202);
        assertGone(repo, "v1");
        assertServed(repo, digest, type, body);

        // retag, then delete by digest: the manifest and all its tags go
        pushManifest(repo, "v2", type, body);
        pushManifest(repo, "latest", type, body);
        request().delete("/v2/" + repo + "/manifests/" + digest).then().statusCode(202);
        assertGone(repo, digest);
        assertGone(repo, "v2");
        assertGone(repo, "latest");
        List<String> tags = request().get("/v2/" + repo + "/tags/list").then().statusCode(200)
                .extract().jsonPath().getList("tags", String.class);
        assertTrue(tags.isEmpty(), "tags left after deleting their manifest: " + tags);
    }

    @Test
    void ociImageManifest() {
        String repo = repo("local", "ocimanifest");
        roundTrip(repo, OCI_MANIFEST, oddImageManifest(repo, OCI_MANIFEST, OCI_CONFIG, OCI_LAYER));
    }

    @Test
    void dockerManifest() {
        String repo = repo("local", "dockermanifest");
        roundTrip(repo, DOCKER_MANIFEST, oddImageManifest(repo, DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER));
    }

    @Test
    void ociIndex() {
        String repo = repo("local", "ociindex");
        roundTrip(repo, OCI_INDEX, oddIndex(repo, OCI_INDEX, OCI_MANIFEST));
    }

    @Test
    void dockerManifestList() {
        String repo = repo("local", "dockerlist");
        roundTrip(repo, DOCKER_LIST, oddIndex(repo, DOCKER_LIST, DOCKER_MANIFEST));
    }

    @Test
    void pushByDigestWithoutTag() {
        String repo = repo("local", "bydigest");
        byte[] body = imageManifest(repo, OCI_MANIFEST);
        String digest = sha256(body);
        request().contentType(OCI_MANIFEST).body(body).put("/v2/" + repo + "/manifests/" + digest)
                .then().statusCode(201).header(CONTENT_DIGEST, digest).header("Location", "/v2/" + repo + "/manifests/" + digest);
        assertServed(repo, digest, OCI_MANIFEST, body);
        assertTrue(request().get("/v2/" + repo + "/tags/list").then().statusCode(200)
                .extract().jsonPath().getList("tags").isEmpty());
    }

    @Test
    void manifestWithoutMediaTypeFieldTakesTheContentType() {
        String repo = repo("local", "nomediatype");
        byte[] config = utf8("{}");
        pushBlob(repo, config);
        byte[] body = utf8("{\"schemaVersion\":2,\"config\":" + Registry.descriptor(OCI_CONFIG, config) + ",\"layers\":[]}");
        pushManifest(repo, "t", OCI_MANIFEST, body);
        assertServed(repo, "t", OCI_MANIFEST, body);
    }

    @Test
    void withoutContentTypeTheMediaTypeFieldDecides() {
        String repo = repo("local", "noctype");
        byte[] body = imageManifest(repo, DOCKER_MANIFEST);
        HttpResponse<byte[]> put = Registry.send(HttpRequest.newBuilder(Registry.uri("/v2/" + repo + "/manifests/t"))
                .PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build());
        assertFalse(put.request().headers().firstValue("Content-Type").isPresent());
        assertEquals(201, put.statusCode(), () -> new String(put.body()));
        assertServed(repo, "t", DOCKER_MANIFEST, body);

        byte[] config = utf8("{}");
        pushBlob(repo, config);
        byte[] untyped = utf8("{\"schemaVersion\":2,\"config\":" + Registry.descriptor(OCI_CONFIG, config) + ",\"layers\":[]}");
        HttpResponse<byte[]> refused = Registry.send(HttpRequest.newBuilder(Registry.uri("/v2/" + repo + "/manifests/u"))
                .PUT(HttpRequest.BodyPublishers.ofByteArray(untyped)).build());
        assertEquals(400, refused.statusCode());
        assertEquals("MANIFEST_INVALID", Registry.error(refused.body()).get("code").asText());
    }

    @Test
    void contentTypeParametersAreDropped() {
        String repo = repo("local", "ctparams");
        byte[] body = imageManifest(repo, OCI_MANIFEST);
        request().contentType(OCI_MANIFEST + "; charset=utf-8").body(body).put("/v2/" + repo + "/manifests/t")
                .then().statusCode(201);
        assertServed(repo, "t", OCI_MANIFEST, body);
    }

    @Test
    void retaggingMovesTheTag() {
        String repo = repo("local", "retag");
        byte[] first = imageManifest(repo, OCI_MANIFEST);
        byte[] second = imageManifest(repo, OCI_MANIFEST);
        pushManifest(repo, "moving", OCI_MANIFEST, first);
        pushManifest(repo, "moving", OCI_MANIFEST, second);
        assertServed(repo, "moving", OCI_MANIFEST, second);
        assertServed(repo, sha256(first), OCI_MANIFEST, first);
    }

    @Test
    void foreignLayersWithUrlsNeedNotBeInTheRepository() {
        String repo = repo("local", "foreign");
        byte[] config = utf8("{\"os\":\"windows\"}");
        pushBlob(repo, config);
        String foreign = "{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"size\":1234,\"digest\":\""
                + sha256(randomBytes(1234)) + "\",\"urls\":[\"https://example.invalid/layer\"]}";
        byte[] body = utf8("{\"schemaVersion\":2,\"mediaType\":\"" + DOCKER_MANIFEST + "\",\"config\":"
                + Registry.descriptor(DOCKER_CONFIG, config) + ",\"layers\":[" + foreign + "]}");
        pushManifest(repo, "win", DOCKER_MANIFEST, body);
        assertServed(repo, "win", DOCKER_MANIFEST, body);
    }

    @Test
    void acceptNegotiation() {
        String repo = repo("local", "accept");
        byte[] index = oddIndex(repo, OCI_INDEX, OCI_MANIFEST);
        pushManifest(repo, "multi", OCI_INDEX, index);
        String path = "/v2/" + repo + "/manifests/multi";

        // an Accept that excludes the index: as if the manifest were not there
        Response excluded = request().accept(OCI_MANIFEST + ", " + DOCKER_MANIFEST).get(path);
        excluded.then().statusCode(404).header(API_VERSION, "registry/2.0");
        assertEquals("MANIFEST_UNKNOWN", errorCode(excluded));
        request().accept(OCI_MANIFEST).head(path).then().statusCode(404);
        request().accept(OCI_MANIFEST).get("/v2/" + repo + "/manifests/" + sha256(index)).then().statusCode(404);

        // no Accept at all: served (rest-assured always sends one, so use the JDK client)
        HttpResponse<byte[]> none = Registry.send(HttpRequest.newBuilder(Registry.uri(path)).GET().build());
        assertEquals(200, none.statusCode());
        assertFalse(none.request().headers().firstValue("Accept").isPresent());
        assertEquals(OCI_INDEX, none.headers().firstValue("Content-Type").orElse(null));
        assertArrayEquals(index, none.body());

        // wildcards and lists that include it: served
        for (String accept : new String[] {"*/*", "application/*", OCI_INDEX,
                OCI_MANIFEST + ", " + OCI_INDEX, DOCKER_MANIFEST + ";q=0.9, " + OCI_INDEX + ";q=0.5"}) {
            Response got = request().accept(accept).get(path);
            got.then().statusCode(200).header("Content-Type", OCI_INDEX);
            assertArrayEquals(index, got.asByteArray(), accept);
        }

        // several Accept headers count together
        request().header("Accept", OCI_MANIFEST).header("Accept", OCI_INDEX).get(path).then().statusCode(200);
    }

    @Test
    void imageManifestIsServedToAClientThatAcceptsIt() {
        String repo = repo("local", "acceptimage");
        byte[] body = imageManifest(repo, DOCKER_MANIFEST);
        pushManifest(repo, "d", DOCKER_MANIFEST, body);
        request().accept(DOCKER_MANIFEST + ", " + DOCKER_LIST).get("/v2/" + repo + "/manifests/d")
                .then().statusCode(200).header("Content-Type", DOCKER_MANIFEST);
        Response refused = request().accept(OCI_MANIFEST).get("/v2/" + repo + "/manifests/d");
        refused.then().statusCode(404);
        assertEquals("MANIFEST_UNKNOWN", errorCode(refused));
    }

    @Test
    void unknownManifest() {
        String repo = repo("local", "unknownmanifest");
        pushManifest(repo, "exists", OCI_MANIFEST, imageManifest(repo, OCI_MANIFEST));
        assertGone(repo, "nosuchtag");
        assertGone(repo, sha256(randomBytes(5)));
        // a reference no tag can be (the conformance suite's .INVALID_MANIFEST_NAME) is unknown too, not a bad request
        assertGone(repo, ".INVALID_MANIFEST_NAME");
        Response delete = request().delete("/v2/" + repo + "/manifests/nosuchtag");
        delete.then().statusCode(404);
        assertEquals("MANIFEST_UNKNOWN", errorCode(delete));
        Response deleteDigest = request().delete("/v2/" + repo + "/manifests/" + sha256(randomBytes(6)));
        deleteDigest.then().statusCode(404);
        assertEquals("MANIFEST_UNKNOWN", errorCode(deleteDigest));
    }

    @Test
    void manifestOfAnotherRepositoryIsUnknown() {
        String a = repo("local", "mana");
        String b = repo("local", "manb");
        byte[] body = imageManifest(a, OCI_MANIFEST);
        pushManifest(a, "x", OCI_MANIFEST, body);
        pushManifest(b, "other", OCI_MANIFEST, imageManifest(b, OCI_MANIFEST));
        assertGone(b, sha256(body));
        assertGone(b, "x");
    }
}
