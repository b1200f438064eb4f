package dev.kiln.app.http;

import static dev.kiln.app.http.BuildApi.awaitEnd;
import static dev.kiln.app.http.BuildApi.context;
import static dev.kiln.app.http.BuildApi.host;
import static dev.kiln.app.http.BuildApi.tarGz;
import static dev.kiln.app.http.Registry.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.registry.mirror.UpstreamRouter;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.LogCapture;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * What an on-call engineer alerts on: every {@code kiln_*} series on /q/metrics has HELP text, and
 * a build through the mirror and a pull of what it mirrored move the series that describe them;
 * the gateway's log has one INFO line per upstream fetch and per build state change.
 */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class OperatorMetricsTest {
    private static final Path WORK = Path.of("target", "operator-metrics-test");
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @Inject
    UpstreamRouter upstreams;

    @Test
    void everyKilnMetricHasHelpText() {
        Map<String, String> help = new LinkedHashMap<>();
        TreeSet<String> families = new TreeSet<>();
        for (String line : scrape()) {
            if (line.startsWith("# HELP kiln_")) {
                String rest = line.substring("# HELP ".length());
                int space = rest.indexOf(' ');
                help.put(space < 0 ? rest : rest.substring(0, space), space < 0 ? "" : rest.substring(space + 1).trim());
            } else if (line.startsWith("# TYPE kiln_")) {
                families.add(line.split(" ")[2]);
            }
        }
        List<String> missing = new ArrayList<>();
        for (String family : families) {
            if (help.getOrDefault(family, "").isEmpty()) {
                missing.add(family);
            }
        }
        assertEquals(List.of(), missing, "kiln_ metrics without HELP text");
        for (String expected : List.of("kiln_builds_queued", "kiln_builds_running", "kiln_builds_finished",
                "kiln_builds_duration_seconds", "kiln_builds_cached_steps", "kiln_builds_not_uploaded_bytes", "kiln_store_used_bytes",
                "kiln_store_budget_bytes", "kiln_store_blobs", "kiln_store_gc_runs", "kiln_store_gc_freed_bytes",
                "kiln_store_gc_duration_seconds", "kiln_mirror_bytes", "kiln_mirror_fetch_duration_seconds")) {
            assertTrue(families.contains(expected), expected + " is published; have " + families);
        }
    }

    @Test
    void exampleAlertsNameOnlyMetricsKilnPublishes() throws Exception {
        JsonNode rule = new com.fasterxml.jackson.databind.ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory())
                .readTree(Path.of("kubernetes", "examples", "prometheusrule.yaml").toFile());
        assertEquals("PrometheusRule", rule.path("kind").asText());
        java.util.Map<String, String> exprs = new java.util.LinkedHashMap<>();
        for (JsonNode group : rule.path("spec").path("groups")) {
            for (JsonNode alert : group.path("rules")) {
                exprs.put(alert.path("alert").asText(), alert.path("expr").asText());
            }
        }
        assertTrue(exprs.size() >= 5, "the example has alerts: " + exprs.size());
        assertNamesOnlyPublishedMetrics(exprs);
    }

    @Test
    void theGrafanaDashboardQueriesOnlyMetricsKilnPublishes() throws Exception {
        JsonNode dashboard = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(Path.of("kubernetes", "examples", "grafana-dashboard.json").toFile());
        java.util.Map<String, String> exprs = new java.util.LinkedHashMap<>();
        for (JsonNode panel : dashboard.path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                exprs.put(panel.path("title").asText() + " " + target.path("refId").asText(), target.path("expr").asText());
            }
        }
        assertTrue(exprs.size() >= 10, "the dashboard has queries: " + exprs.size());
        assertNamesOnlyPublishedMetrics(exprs);
    }

    /** Each expression names at least one kiln_ metric, and only ones /q/metrics publishes (histograms by their series). */
    private static void assertNamesOnlyPublishedMetrics(java.util.Map<String, String> exprsByName) {
        TreeSet<String> published = new TreeSet<>();
        for (String sample : samples().keySet()) {
            published.add(sample.contains("{") ? sample.substring(0, sample.indexOf('{')) : sample);
        }
        java.util.regex.Pattern metric = java.util.regex.Pattern.compile("\\bkiln_[a-z0-9_]+");
        List<String> unknown = new ArrayList<>();
        exprsByName.forEach((name, expr) -> {
            java.util.regex.Matcher names = metric.matcher(expr);
            int found = 0;
            while (names.find()) {
                found++;
                if (!published.contains(names.group())) {
                    unknown.add(name + ": " + names.group());
                }
            }
            assertTrue(found > 0, name + " names a Kiln metric: " + expr);
        });
        assertEquals(List.of(), unknown, "metrics named that Kiln does not publish; it publishes " + published);
    }

    @Test
    void aBuildThroughTheMirrorAndAPullMoveTheirSeriesAndAreLogged() throws Exception {
        LogCapture capture = LogCapture.start();
        int port = upstreams.upstreams().get(WipeTestStore.TEST_UPSTREAM).endpoint().url().getPort();
        try (DockerRegistry upstream = DockerRegistry.configure(WORK.resolve("upstream-" + UUID.randomUUID())).port(port).start()) {
            TestImages.Layout base = TestImages.busybox(WORK.resolve("base-" + UUID.randomUUID()));
            String repo = "base/metrics-" + UUID.randomUUID().toString().substring(0, 8);
            new Skopeo(WORK.resolve("skopeo")).run("copy", "--dest-tls-verify=false", base.reference(),
                    "docker://" + upstream.host() + "/" + repo + ":1");
            String upstreamName = WipeTestStore.TEST_UPSTREAM;
            Map<String, Double> before = samples();

            Path ctx = context(WORK, "FROM " + upstreamName + "/" + repo + ":1\nCOPY a.txt /a.txt\n", Map.of("a.txt", "a\n"));
            String image = host() + "/local/metrics-" + UUID.randomUUID().toString().substring(0, 8) + ":1";
            String first = build(ctx, image);
            String second = build(ctx, image);
            Map<String, Double> afterBuilds = samples();

            assertEquals(2.0, delta(before, afterBuilds, "kiln_builds_finished_total{outcome=\"succeeded\"}"), "two builds succeeded");
            assertEquals(2.0, delta(before, afterBuilds, "kiln_builds_duration_seconds_count{outcome=\"succeeded\"}"), "two durations");
            assertEquals(1.0, delta(before, afterBuilds, "kiln_builds_cached_steps_total{cache=\"miss\"}"), "the first COPY ran");
            assertEquals(1.0, delta(before, afterBuilds, "kiln_builds_cached_steps_total{cache=\"hit\"}"), "the second came from the cache");
            assertTrue(delta(before, afterBuilds, "kiln_builds_not_uploaded_bytes_total") > 0, "the second build uploaded nothing new");
            assertEquals(0.0, afterBuilds.get("kiln_builds_running"), "no build runs any more");
            // a blob no other test has, pulled twice: fetched from the upstream once, then served from the store
            byte[] content = new byte[300_000];
            new java.util.Random().nextBytes(content);
            String layer = upstream.pushBlob(repo, content);
            long layerSize = content.length;
            Map<String, Double> beforePull = samples();
            assertEquals(layerSize, pull(upstreamName + "/" + repo, layer).length);
            Map<String, Double> afterFetch = samples();
            assertEquals((double) layerSize, delta(beforePull, afterFetch,
                    "kiln_mirror_bytes_total{source=\"upstream\",upstream=\"" + upstreamName + "\"}"), "the first pull fetched the blob");
            assertEquals(1.0, delta(beforePull, afterFetch,
                    "kiln_mirror_fetch_duration_seconds_count{kind=\"blob\",upstream=\"" + upstreamName + "\"}"), "the fetch was timed");
            assertEquals((double) layerSize, pull(upstreamName + "/" + repo, layer).length);
            Map<String, Double> afterPull = samples();
            assertEquals((double) layerSize,
                    delta(afterFetch, afterPull, "kiln_mirror_bytes_total{source=\"cache\",upstream=\"" + upstreamName + "\"}"),
                    "the second pull's bytes count as served from the cache");
            assertEquals(0.0, delta(afterFetch, afterPull, "kiln_mirror_bytes_total{source=\"upstream\",upstream=\"" + upstreamName + "\"}"));

            // the store's size is measured at most every 10 s: wait for a fresh measurement
            Map<String, Double> store = afterPull;
            for (long deadline = System.nanoTime() + 30_000_000_000L; store.get("kiln_store_used_bytes") < layerSize
                    && System.nanoTime() < deadline; store = samples()) {
                Thread.sleep(500);
            }
            assertTrue(store.get("kiln_store_used_bytes") >= layerSize, "the store holds the blob: " + store.get("kiln_store_used_bytes"));
            assertTrue(store.get("kiln_store_blobs") >= 4, "the store holds the base image's, the builds' and the pulled blobs");
            // HTTP metrics by route family: one series for every blob, whatever its repository or digest
            List<String> http = request().get("/q/metrics").then().statusCode(200).extract().asString().lines()
                    .filter(l -> l.startsWith("http_server_requests_seconds_count{")).toList();
            for (String family : List.of("uri=\"/v2/{name}/blobs/{digest}\"", "uri=\"/api/v1/builds/{id}\"")) {
                assertTrue(http.stream().anyMatch(l -> l.contains(family)), family + " in " + http);
            }
            assertTrue(http.stream().noneMatch(l -> l.contains(layer) || l.contains(repo)), "no digests or names in " + http);

            List<String> log = capture.lines(java.util.logging.Level.INFO);
            String all = String.join("\n", log);
            assertTrue(log.stream().anyMatch(l -> l.contains("fetched blob " + upstreamName + "/" + repo + "@" + layer + ": "
                    + layerSize + " bytes in ") && l.contains("coalesced waiters")), "one INFO line for the layer's fetch:\n" + all);
            for (String id : List.of(first, second)) {
                for (String state : List.of("queued", "running", "succeeded")) {
                    assertEquals(1, log.stream().filter(l -> l.contains("build " + id + " " + state)).count(),
                            "one INFO line for build " + id + " becoming " + state + ":\n" + all);
                }
            }
        } finally {
            capture.close();
        }
    }

    private static byte[] pull(String name, String digest) throws Exception {
        HttpResponse<byte[]> pulled = HTTP.send(HttpRequest.newBuilder(URI.create(BuildApi.url("/v2/" + name + "/blobs/" + digest))).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, pulled.statusCode(), new String(pulled.body()));
        return pulled.body();
    }

    private static String build(Path ctx, String image) throws Exception {
        String id = request().contentType("application/gzip").body(tarGz(ctx)).post("/api/v1/builds?cache=true&destination=" + image)
                .then().statusCode(202).extract().path("id");
        JsonNode end = awaitEnd(id);
        assertEquals("succeeded", end.get("state").asText(), request().get("/api/v1/builds/" + id + "/log").asString());
        return id;
    }

    private static double delta(Map<String, Double> before, Map<String, Double> after, String series) {
        assertTrue(after.containsKey(series), series + " is published; have " + new TreeSet<>(after.keySet()));
        return after.get(series) - before.getOrDefault(series, 0.0);
    }

    private static List<String> scrape() {
        return List.of(request().get("/q/metrics").then().statusCode(200).extract().asString().split("\n"));
    }

    /** Every kiln_ sample, keyed by name and labels as Prometheus prints them. */
    private static Map<String, Double> samples() {
        Map<String, Double> samples = new LinkedHashMap<>();
        for (String line : scrape()) {
            if (line.startsWith("kiln_")) {
                int space = line.lastIndexOf(' ');
                samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
            }
        }
        return samples;
    }
}
