package dev.kiln.app.http;

import static dev.kiln.app.http.BuildApi.JSON;
import static dev.kiln.app.http.BuildApi.awaitEnd;
import static dev.kiln.app.http.BuildApi.context;
import static dev.kiln.app.http.BuildApi.host;
import static dev.kiln.app.http.BuildApi.tarGz;
import static dev.kiln.app.http.Registry.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.registry.mirror.UpstreamRouter;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Gateway builds wired to the gateway's own store: base images from a real upstream registry come
 * through the mirror into the store, images and cached layers are written into the store, and no
 * request reaches the gateway's own {@code /v2/} while they build.
 */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class GatewayStoreBuildTest {
    private static final Path WORK = Path.of("target", "gateway-store-build-test");
    private static final String DOCKERFILE = "FROM " + WipeTestStore.TEST_UPSTREAM + "/base/busybox:1\n"
            + "COPY a.txt /a.txt\nRUN echo ran > /ran.txt\nCOPY b.txt /b.txt\n";

    private static DockerRegistry upstream;
    private static TestImages.Layout base;

    @Inject
    UpstreamRouter upstreams;

    /** The real registry behind the configured test upstream, with a busybox base image in it; started once. */
    private DockerRegistry upstream() throws IOException {
        if (upstream == null) {
            int port = upstreams.upstreams().get(WipeTestStore.TEST_UPSTREAM).endpoint().url().getPort();
            upstream = DockerRegistry.configure(WORK.resolve("upstream-" + UUID.randomUUID())).port(port).start();
            base = TestImages.busybox(WORK.resolve("base-" + UUID.randomUUID()));
            new Skopeo(WORK.resolve("skopeo")).run("copy", "--dest-tls-verify=false", base.reference(),
                    "docker://" + upstream.host() + "/base/busybox:1");
        }
        return upstream;
    }

    @AfterAll
    static void stopUpstream() {
        if (upstream != null) {
            upstream.close();
            upstream = null;
        }
    }

    private static JsonNode build(Path ctx, List<String> destinations) throws Exception {
        StringBuilder query = new StringBuilder("?cache=true");
        for (String destination : destinations) {
            query.append("&destination=").append(destination);
        }
        String id = request().contentType("application/gzip").body(tarGz(ctx)).post("/api/v1/builds" + query)
                .then().statusCode(202).extract().path("id");
        JsonNode end = awaitEnd(id);
        assertEquals("succeeded", end.get("state").asText(), request().get("/api/v1/builds/" + id + "/log").asString());
        return end;
    }

    /** Whether each RUN/COPY step came from the cache, in order. */
    private static List<Boolean> cachedSteps(JsonNode build) {
        List<Boolean> cached = new ArrayList<>();
        for (JsonNode step : build.get("steps")) {
            if (!step.get("instruction").asText().startsWith("FROM")) {
                cached.add(step.get("cached").asBoolean());
            }
        }
        return cached;
    }

    /** Requests the gateway's HTTP server has answered on {@code /v2/…}, from its Micrometer metrics. */
    private static double v2Requests() {
        double total = 0;
        for (String line : request().get("/q/metrics").then().statusCode(200).extract().asString().split("\n")) {
            if (line.startsWith("http_server_requests_seconds_count{") && line.contains("uri=\"/v2")) {
                total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return total;
    }

    private static Path storeBlob(String digest) {
        String hex = digest.substring("sha256:".length());
        return WipeTestStore.STORE.resolve("blobs/sha256").resolve(hex.substring(0, 2)).resolve(hex);
    }

    @Test
    void cachedRebuildsReuseEveryLayerThroughTheStoreWithoutAnHttpHopToTheGatewayItself() throws Exception {
        DockerRegistry registry = upstream();
        String baseLayer = base.images().get(0).layerDigests().get(0);
        Path ctx = context(WORK, DOCKERFILE, Map.of("a.txt", "a\n", "b.txt", "b, first version\n"));
        String repo = "local/gw-store-" + UUID.randomUUID().toString().substring(0, 8);
        String image = host() + "/" + repo + ":1";
        request().get("/v2/").then().statusCode(200); // so the gateway's /v2 request counter exists before the builds
        double v2Before = v2Requests();

        JsonNode first = build(ctx, List.of(image));
        JsonNode report = first.get("report");
        assertEquals(List.of(false, false, false), cachedSteps(first));
        assertEquals(4, report.get("layers").asInt(), report.toString());
        assertEquals(0, report.get("layersFromCache").asInt(), report.toString());
        assertEquals(1, report.get("layersReused").asInt(), "the base layer was in the store already: " + report);
        assertTrue(report.get("layerBytesUploaded").asLong() > 0, report.toString());
        assertEquals("cache/" + repo, report.get("cacheRepository").asText());
        JsonNode destination = report.get("destinations").get(0);
        assertTrue(destination.get("inStore").asBoolean(), report.toString());
        assertEquals(4, destination.get("blobsUploaded").asInt(), "config and the three new layers: " + report);
        assertEquals(1, destination.get("blobsLinked").asInt(), "the base layer, linked from the mirror's copy: " + report);
        assertTrue(Files.isRegularFile(storeBlob(baseLayer)), "the base layer is a store blob");
        assertEquals(1, registry.blobGets(baseLayer), "the mirror fetched the base layer once");

        // the same context again: every step from the cache, no layer byte written anywhere
        JsonNode second = build(ctx, List.of(image));
        report = second.get("report");
        assertEquals(List.of(true, true, true), cachedSteps(second));
        assertEquals(3, report.get("layersFromCache").asInt(), report.toString());
        assertEquals(4, report.get("layersReused").asInt(), report.toString());
        assertEquals(0, report.get("layerBytesUploaded").asLong(), report.toString());
        assertEquals(1, report.get("destinations").get(0).get("blobsUploaded").asInt(), "only the new config: " + report);
        assertTrue(report.get("bytesNotUploaded").asLong() > report.get("bytesUploaded").asLong(), report.toString());

        // a changed last COPY source: that step alone runs, and its layer is the only new one
        Files.writeString(ctx.resolve("b.txt"), "b, second version\n");
        JsonNode third = build(ctx, List.of(image));
        report = third.get("report");
        assertEquals(List.of(true, true, false), cachedSteps(third));
        assertEquals(2, report.get("layersFromCache").asInt(), report.toString());
        assertEquals(3, report.get("layersReused").asInt(), report.toString());
        assertEquals(2, report.get("destinations").get(0).get("blobsUploaded").asInt(), "the config and the COPY layer: " + report);
        assertTrue(report.get("layerBytesUploaded").asLong() > 0, report.toString());

        assertEquals(v2Before, v2Requests(), "three builds, and not one request to the gateway's own /v2/");
        assertEquals(1, registry.blobGets(baseLayer), "later builds read the base layer from the store");

        Skopeo skopeo = new Skopeo(WORK.resolve("skopeo"));
        JsonNode inspected = JSON.readTree(skopeo.run("inspect", "--tls-verify=false", "docker://" + image).stdout());
        assertEquals(third.get("digest").asText(), inspected.get("Digest").asText());
        assertEquals(4, inspected.get("Layers").size());
        assertEquals(baseLayer, inspected.get("Layers").get(0).asText());
        Path copied = WORK.resolve("copied-" + UUID.randomUUID());
        skopeo.run("copy", "--src-tls-verify=false", "docker://" + image, "oci:" + copied + ":1");
        assertTrue(Files.readString(copied.resolve("index.json")).contains(third.get("digest").asText()));
        assertTrue(v2Requests() > v2Before, "the counter does count /v2/ requests, such as skopeo's");
        request().get("/v2/cache/" + repo + "/tags/list").then().statusCode(200)
                .body("tags.size()", org.hamcrest.Matchers.equalTo(4)); // three steps, and the changed COPY's new key
    }

    @Test
    void aDestinationOnTheGatewayOutsideItsLocalNamespacesIsRefusedAndNothingIsTagged() throws Exception {
        Path ctx = context(WORK, "FROM scratch\nCOPY a.txt /a.txt\n", Map.of("a.txt", "shadow\n"));
        String repo = WipeTestStore.TEST_UPSTREAM + "/shadowed-" + UUID.randomUUID().toString().substring(0, 8);
        String id = request().contentType("application/gzip").body(tarGz(ctx))
                .post("/api/v1/builds?destination=" + host() + "/" + repo + ":1").then().statusCode(202).extract().path("id");
        JsonNode end = awaitEnd(id);
        assertEquals("failed", end.get("state").asText(), end.toString());
        assertTrue(end.get("error").asText().contains("push failed") && end.get("error").asText().contains("local namespaces"),
                end.get("error").asText());
        assertFalse(Files.exists(WipeTestStore.STORE.resolve("repositories").resolve(repo)), "nothing was linked under " + repo);
    }

    @Test
    void aForeignDestinationGetsOnlyTheBlobsItLacks() throws Exception {
        DockerRegistry registry = upstream();
        Path ctx = context(WORK, DOCKERFILE, Map.of("a.txt", "a for two\n", "b.txt", "b for two\n"));
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        String local = host() + "/local/gw-both-" + suffix + ":1";
        String foreign = registry.host() + "/pushed/app-" + suffix + ":1";

        JsonNode first = build(ctx, List.of(local, foreign)).get("report");
        JsonNode there = first.get("destinations").get(1);
        assertFalse(there.get("inStore").asBoolean(), first.toString());
        assertEquals(5, there.get("blobsUploaded").asInt(), "a new repository lacks everything: " + first);

        JsonNode second = build(ctx, List.of(local, foreign)).get("report");
        there = second.get("destinations").get(1);
        assertEquals(4, there.get("blobsExisting").asInt(), "every layer is there already: " + second);
        assertEquals(1, there.get("blobsUploaded").asInt(), "only the new config is uploaded: " + second);
        assertEquals(0, second.get("layerBytesUploaded").asLong(), second.toString());
        assertEquals(4, second.get("layersReused").asInt(), second.toString());
        assertTrue(second.get("destinations").get(0).get("inStore").asBoolean(), second.toString());

        JsonNode inspected = JSON.readTree(new Skopeo(WORK.resolve("skopeo")).run("inspect", "--tls-verify=false",
                "docker://" + foreign).stdout());
        assertEquals(4, inspected.get("Layers").size());
    }
}
