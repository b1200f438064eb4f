package dev.kiln.app.http;

import static dev.kiln.app.http.BuildApi.awaitEnd;
import static dev.kiln.app.http.BuildApi.context;
import static dev.kiln.app.http.BuildApi.tarGz;
import static dev.kiln.app.http.Registry.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.DockerRegistry;
import dev.kiln.registry.mirror.UpstreamRouter;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.logging.Level;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;

/**
 * The dashboard in a real browser: Debian's chromium, headless, driven through Debian's
 * chromedriver (nothing is downloaded). Pulls and a build made by the test must show up in the
 * page's numbers and charts, the build's log must stream into the page while it runs, and the
 * browser's console must stay free of errors. Screenshots go to target/dashboard-browser-test/.
 */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class DashboardBrowserTest {
    private static final Path WORK = Path.of("target", "dashboard-browser-test");
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @Inject
    UpstreamRouter upstreams;

    private ChromeDriver browser;
    private final List<String> console = new ArrayList<>();

    @BeforeEach
    void startBrowser() throws Exception {
        assertTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "the browser tests need Debian's chromium and chromium-driver (scripts/install-test-deps)");
        Files.createDirectories(WORK);
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,2000", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-extensions", "--user-data-dir=" + Files.createTempDirectory(WORK, "profile").toAbsolutePath());
        options.setCapability("goog:loggingPrefs", Map.of(LogType.BROWSER, "ALL"));
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().withLogFile(WORK.resolve("chromedriver.log").toFile()).build();
        browser = new ChromeDriver(service, options);
        browser.manage().timeouts().scriptTimeout(Duration.ofSeconds(30));
    }

    @AfterEach
    void stopBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    @Test
    void pullsAndABuildShowUpAndItsLogStreamsIntoThePage() throws Exception {
        String upstreamName = WipeTestStore.TEST_UPSTREAM;
        int port = upstreams.upstreams().get(upstreamName).endpoint().url().getPort();
        try (DockerRegistry upstream = DockerRegistry.configure(WORK.resolve("upstream-" + UUID.randomUUID())).port(port).start()) {
            // a base image with a shell, built into the gateway, so the watched build can take its time
            String baseImage = BuildApi.busyboxBase(WORK);

            JsonPath before = summary();
            String repo = "dash/image-" + UUID.randomUUID().toString().substring(0, 8);
            byte[] layer = new byte[200_000];
            new Random().nextBytes(layer);
            upstream.pushImage(repo, "1", layer);
            String layerDigest = "sha256:" + java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(layer));
            get("/v2/" + upstreamName + "/" + repo + "/manifests/1", "application/vnd.oci.image.manifest.v1+json");
            get("/v2/" + upstreamName + "/" + repo + "/blobs/" + layerDigest, "*/*"); // fetched from the upstream
            get("/v2/" + upstreamName + "/" + repo + "/blobs/" + layerDigest, "*/*"); // from the store

            browser.get(BuildApi.url("/"));
            await(() -> !text("status").startsWith("loading"), "the page drew the summary: " + text("status"));
            screenshot("before");

            String token = UUID.randomUUID().toString().substring(0, 8);
            Path slow = context(WORK, "FROM " + baseImage + "\nRUN echo dash-first-" + token + " && sleep 8 && echo dash-last-" + token + "\n", Map.of());
            String id = request().contentType("application/gzip").body(tarGz(slow)).post("/api/v1/builds")
                    .then().statusCode(202).extract().path("id");
            await(() -> !browser.findElements(By.cssSelector("#recent tr[data-build='" + id + "']")).isEmpty(),
                    "the submitted build appears in the page");
            browser.findElement(By.cssSelector("#recent tr[data-build='" + id + "']")).click();
            await(() -> text("log").contains("dash-first-" + token), "the log streams into the page: " + text("log"));
            String stateWhileShown = request().get("/api/v1/builds/" + id).then().extract().path("state");
            assertEquals("running", stateWhileShown, "the first line was shown while the build still ran");
            assertTrue(!text("log").contains("dash-last-" + token), "the last line is not there before it is written");
            screenshot("build-log-running");
            await(() -> "succeeded".equals(browser.findElement(By.id("log-panel")).getAttribute("data-ended")),
                    "the page saw the end of the build: " + text("log-state"));
            assertTrue(text("log").contains("dash-last-" + token), text("log"));

            // the numbers and charts are those of the pulls above, exactly
            JsonPath after = summary();
            long fetched = upstreamValue(before, upstreamName, "bytesFromUpstream") + layer.length;
            long cached = upstreamValue(before, upstreamName, "bytesFromCache") + layer.length;
            assertEquals(fetched, upstreamValue(after, upstreamName, "bytesFromUpstream"), "the API agrees with the test's pulls");
            await(() -> cell(upstreamName, "bytesFromUpstream") == fetched && cell(upstreamName, "bytesFromCache") == cached,
                    "the upstream's row shows the bytes fetched and served from the store: " + cell(upstreamName, "bytesFromUpstream")
                            + " fetched, " + cell(upstreamName, "bytesFromCache") + " from the store; want " + fetched + ", " + cached);
            await(() -> {
                WebElement cacheBar = browser.findElement(By.cssSelector("#bytes-chart rect.cache[data-upstream='" + upstreamName + "']"));
                WebElement fetchBar = browser.findElement(By.cssSelector("#bytes-chart rect.upstream[data-upstream='" + upstreamName + "']"));
                return cacheBar.getAttribute("data-bytes").equals(Long.toString(cached))
                        && Double.parseDouble(cacheBar.getAttribute("width")) > 0 && Double.parseDouble(fetchBar.getAttribute("width")) > 0;
            }, "both parts of the upstream's bar are drawn, the store's for " + cached + " bytes");
            await(() -> !browser.findElements(By.cssSelector("#top-images rect[data-image='" + upstreamName + "/" + repo + "']")).isEmpty(),
                    "the image pulled is among the top images");
            await(() -> Integer.parseInt(browser.findElement(By.id("hit-ratio-chart")).getAttribute("data-points")) >= 1,
                    "the hit ratio chart has a point for the pulls");
            await(() -> Long.parseLong(browser.findElement(By.id("store-used")).getAttribute("data-value")) >= layer.length,
                    "the store holds at least the layer");
            await(() -> browser.findElement(By.cssSelector("#recent tr[data-build='" + id + "']")).getText().contains("succeeded"),
                    "the build's row shows its end");
            screenshot("overview");
        }
        assertConsoleClean();
    }

    @Test
    void aBuildNamedInTheAddressIsFollowedAndAnUnknownPageIsAProblem() throws Exception {
        Path ctx = context(WORK, "FROM scratch\nCOPY a.txt /a.txt\n", Map.of("a.txt", "a\n"));
        String id = request().contentType("application/gzip").body(tarGz(ctx)).post("/api/v1/builds").then().statusCode(202).extract().path("id");
        awaitEnd(id);
        browser.get(BuildApi.url("/?build=" + id));
        await(() -> "succeeded".equals(browser.findElement(By.id("log-panel")).getAttribute("data-ended")),
                "an ended build's whole log is shown: " + text("log"));
        assertTrue(text("log").contains("COPY a.txt /a.txt"), text("log"));
        assertConsoleClean();

        HttpResponse<String> missing = HTTP.send(HttpRequest.newBuilder(URI.create(BuildApi.url("/dashboard/nothing.js"))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(404, missing.statusCode());
        assertEquals("application/problem+json", missing.headers().firstValue("Content-Type").orElse(""));
        HttpResponse<String> page = HTTP.send(HttpRequest.newBuilder(URI.create(BuildApi.url("/"))).build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(page.headers().firstValue("Content-Security-Policy").orElse("").contains("default-src 'self'"),
                "the page may load nothing from elsewhere");
    }

    private JsonPath summary() {
        return request().get("/api/v1/summary").then().statusCode(200).extract().jsonPath();
    }

    private static long upstreamValue(JsonPath summary, String upstream, String field) {
        return summary.getLong("mirror.upstreams.find { it.name == '" + upstream + "' }." + field);
    }

    private long cell(String upstream, String field) {
        List<WebElement> cells = browser.findElements(By.cssSelector("#upstreams tr[data-upstream='" + upstream + "'] td[data-field='" + field + "']"));
        return cells.isEmpty() ? -1 : Long.parseLong(cells.get(0).getAttribute("data-value"));
    }

    private String text(String id) {
        List<WebElement> found = browser.findElements(By.id(id));
        return found.isEmpty() ? "" : found.get(0).getText();
    }

    private static void get(String path, String accept) throws Exception {
        HttpResponse<byte[]> response = HTTP.send(HttpRequest.newBuilder(URI.create(BuildApi.url(path))).header("Accept", accept).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, response.statusCode(), path + ": " + new String(response.body()));
    }

    /** Polls for up to a minute: the page redraws every 5 s and builds are slower on a loaded machine. */
    private void await(Supplier<Boolean> condition, String what) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                if (condition.get()) {
                    return;
                }
            } catch (RuntimeException notYet) {
                // an element redrawn between finding and reading it
            }
            Thread.sleep(200);
        }
        screenshot("failed");
        throw new AssertionError("timed out: " + what + "\nbrowser console: " + consoleLines());
    }

    private void screenshot(String name) throws Exception {
        File shot = browser.getScreenshotAs(OutputType.FILE);
        Files.copy(shot.toPath(), WORK.resolve("dashboard-" + name + ".png"), StandardCopyOption.REPLACE_EXISTING);
    }

    private List<String> consoleLines() {
        for (LogEntry entry : browser.manage().logs().get(LogType.BROWSER)) {
            console.add(entry.getLevel() + " " + entry.getMessage());
        }
        return console;
    }

    private void assertConsoleClean() {
        List<String> errors = consoleLines().stream().filter(l -> l.startsWith(Level.SEVERE.getName()) || l.startsWith(Level.WARNING.getName())).toList();
        assertEquals(List.of(), errors, "the browser console has errors or warnings");
    }
}
