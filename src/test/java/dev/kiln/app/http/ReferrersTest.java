package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.API_VERSION;
import static dev.kiln.app.http.Registry.OCI_INDEX;
import static dev.kiln.app.http.Registry.OCI_MANIFEST;
import static dev.kiln.app.http.Registry.descriptor;
import static dev.kiln.app.http.Registry.errorCode;
import static dev.kiln.app.http.Registry.imageManifest;
import static dev.kiln.app.http.Registry.json;
import static dev.kiln.app.http.Registry.pushBlob;
import static dev.kiln.app.http.Registry.pushManifest;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static dev.kiln.app.http.Registry.sha256;
import static dev.kiln.app.http.Registry.utf8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The referrers API: manifests with a {@code subject}, listed as an OCI index, filterable by artifact type. */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class ReferrersTest {
    private static final String EMPTY = "application/vnd.oci.empty.v1+json";
    private static final String SBOM = "application/vnd.example.sbom.v1+json";
    private static final String SIGNATURE = "application/vnd.example.signature.v1";

    private record Pushed(String digest, byte[] body) {
    }

    /** An artifact manifest in the 1.1 style: empty config, explicit artifactType, annotations, a subject. */
    private static Pushed pushArtifact(String repo, String subjectDigest, int subjectSize, String artifactType, String note) {
        byte[] empty = utf8("{}");
        pushBlob(repo, empty);
        byte[] payload = randomBytes(64);
        pushBlob(repo, payload);
        byte[] body = utf8("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"artifactType\":\"" + artifactType + "\","
                + "\"config\":" + descriptor(EMPTY, empty) + ",\"layers\":[" + descriptor("application/octet-stream", payload) + "],"
                + "\"subject\":{\"mediaType\":\"" + OCI_MANIFEST + "\",\"digest\":\"" + subjectDigest + "\",\"size\":" + subjectSize + "},"
                + "\"annotations\":{\"org.example.note\":\"" + note + "\"}}");
        String digest = sha256(body);
        request().contentType(OCI_MANIFEST).body(body).put("/v2/" + repo + "/manifests/" + digest)
                .then().statusCode(201)
                .header("OCI-Subject", subjectDigest)
                .header(Registry.CONTENT_DIGEST, digest);
        return new Pushed(digest, body);
    }

    private static Pushed pushSubject(String repo) {
        byte[] body = imageManifest(repo, OCI_MANIFEST);
        pushManifest(repo, "subject", OCI_MANIFEST, body);
        return new Pushed(sha256(body), body);
    }

    private static JsonNode referrers(String repo, String subject, String query) {
        Response response = request().get("/v2/" + repo + "/referrers/" + subject + query);
        response.then().statusCode(200).contentType(OCI_INDEX).header(API_VERSION, "registry/2.0");
        JsonNode index = json(response.asByteArray());
        assertEquals(2, index.get("schemaVersion").asInt());
        assertEquals(OCI_INDEX, index.get("mediaType").asText());
        assertTrue(index.get("manifests").isArray());
        return index;
    }

    private static List<String> digests(JsonNode index) {
        List<String> digests = new ArrayList<>();
        index.get("manifests").forEach(m -> digests.add(m.get("digest").asText()));
        return digests;
    }

    @Test
    void referrerIsListedWithArtifactTypeAndAnnotations() {
        String repo = repo("local", "referrers");
        Pushed subject = pushSubject(repo);
        Pushed sbom = pushArtifact(repo, subject.digest(), subject.body().length, SBOM, "the sbom");

        JsonNode index = referrers(repo, subject.digest(), "");
        assertEquals(1, index.get("manifests").size());
        JsonNode descriptor = index.get("manifests").get(0);
        assertEquals(OCI_MANIFEST, descriptor.get("mediaType").asText());
        assertEquals(sbom.digest(), descriptor.get("digest").asText());
        assertEquals(sbom.body().length, descriptor.get("size").asLong());
        assertEquals(SBOM, descriptor.get("artifactType").asText());
        assertEquals("the sbom", descriptor.get("annotations").get("org.example.note").asText());
    }

    @Test
    void artifactTypeDefaultsToTheConfigMediaType() {
        String repo = repo("local", "referrersconfig");
        Pushed subject = pushSubject(repo);
        byte[] config = utf8("{\"kind\":\"signature\"}");
        pushBlob(repo, config);
        byte[] body = utf8("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":"
                + descriptor("application/vnd.example.config.v1+json", config) + ",\"layers\":[],"
                + "\"subject\":" + descriptor(OCI_MANIFEST, subject.body()) + "}");
        pushManifest(repo, sha256(body), OCI_MANIFEST, body);
        JsonNode descriptor = referrers(repo, subject.digest(), "").get("manifests").get(0);
        assertEquals("application/vnd.example.config.v1+json", descriptor.get("artifactType").asText());
        assertNull(descriptor.get("annotations"));
    }

    @Test
    void filterByArtifactType() {
        String repo = repo("local", "referrersfilter");
        Pushed subject = pushSubject(repo);
        Pushed sbom = pushArtifact(repo, subject.digest(), subject.body().length, SBOM, "sbom");
        Pushed sig = pushArtifact(repo, subject.digest(), subject.body().length, SIGNATURE, "sig");

        Response all = request().get("/v2/" + repo + "/referrers/" + subject.digest());
        all.then().statusCode(200);
        assertNull(all.header("OCI-Filters-Applied"), "no filter was asked for");
        List<String> expected = new ArrayList<>(List.of(sbom.digest(), sig.digest()));
        expected.sort(null);
        List<String> listed = digests(json(all.asByteArray()));
        listed.sort(null);
        assertEquals(expected, listed);

        Response filtered = request().get("/v2/" + repo + "/referrers/" + subject.digest() + "?artifactType=" + SIGNATURE);
        filtered.then().statusCode(200).contentType(OCI_INDEX).header("OCI-Filters-Applied", "artifactType");
        assertEquals(List.of(sig.digest()), digests(json(filtered.asByteArray())));

        Response none = request().get("/v2/" + repo + "/referrers/" + subject.digest() + "?artifactType=application/vnd.none");
        none.then().statusCode(200).header("OCI-Filters-Applied", "artifactType");
        assertEquals(List.of(), digests(json(none.asByteArray())));
    }

    @Test
    void unknownSubjectHasNoReferrers() {
        String repo = repo("local", "referrersnone");
        pushSubject(repo);
        JsonNode index = referrers(repo, sha256(randomBytes(9)), "");
        assertEquals(0, index.get("manifests").size());
        // also in a repository that does not exist
        assertEquals(0, referrers(repo("local", "referrersnorepo"), sha256(randomBytes(9)), "").get("manifests").size());
    }

    @Test
    void subjectNeedNotExistWhenTheReferrerIsPushed() {
        String repo = repo("local", "referrersfirst");
        String future = sha256(randomBytes(100));
        Pushed sig = pushArtifact(repo, future, 100, SIGNATURE, "early");
        assertEquals(List.of(sig.digest()), digests(referrers(repo, future, "")));
    }

    @Test
    void deletingTheReferrerRemovesIt() {
        String repo = repo("local", "referrersdelete");
        Pushed subject = pushSubject(repo);
        Pushed sbom = pushArtifact(repo, subject.digest(), subject.body().length, SBOM, "a");
        Pushed sig = pushArtifact(repo, subject.digest(), subject.body().length, SIGNATURE, "b");
        request().delete("/v2/" + repo + "/manifests/" + sbom.digest()).then().statusCode(202);
        assertEquals(List.of(sig.digest()), digests(referrers(repo, subject.digest(), "")));
        request().delete("/v2/" + repo + "/manifests/" + sig.digest()).then().statusCode(202);
        assertEquals(List.of(), digests(referrers(repo, subject.digest(), "")));
    }

    @Test
    void referrersAreScopedToTheRepository() {
        String repo = repo("local", "referrersscope");
        String other = repo("local", "referrersother");
        Pushed subject = pushSubject(repo);
        pushArtifact(repo, subject.digest(), subject.body().length, SBOM, "x");
        assertEquals(List.of(), digests(referrers(other, subject.digest(), "")));
    }

    @Test
    void indexWithSubjectIsAReferrerToo() {
        String repo = repo("local", "referrersindex");
        Pushed subject = pushSubject(repo);
        byte[] index = utf8("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_INDEX + "\",\"artifactType\":\"" + SBOM + "\","
                + "\"manifests\":[],\"subject\":" + descriptor(OCI_MANIFEST, subject.body()) + "}");
        String digest = pushManifest(repo, sha256(index), OCI_INDEX, index);
        JsonNode descriptor = referrers(repo, subject.digest(), "").get("manifests").get(0);
        assertEquals(digest, descriptor.get("digest").asText());
        assertEquals(OCI_INDEX, descriptor.get("mediaType").asText());
        assertEquals(SBOM, descriptor.get("artifactType").asText());
    }

    @Test
    void malformedSubjectDigestIsDigestInvalid() {
        Response response = request().get("/v2/" + repo("local", "referrersbad") + "/referrers/sha256:abc");
        response.then().statusCode(400);
        assertEquals("DIGEST_INVALID", errorCode(response));
    }
}
