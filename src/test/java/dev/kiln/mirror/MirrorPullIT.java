package dev.kiln.mirror;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.OciLayout.Content;
import dev.kiln.testkit.OciLayout.Image;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Http;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.OciLayout;
import dev.kiln.testkit.Poll;
import dev.kiln.testkit.Skopeo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** skopeo pulls through Kiln from a real distribution registry: cold, warm, by tag and digest, every manifest kind. */
@Timeout(120)
class MirrorPullIT {
    @TempDir
    static Path tmp;
    static Skopeo skopeo;

    static DockerRegistry upstream;
    static KilnProcess kiln;
    static Image oci;
    static Image v2s2Source;
    static Image hub;
    static Image amd64;
    static Image arm64;
    static OciLayout.Blob index;

    @BeforeAll
    static void start() throws IOException {
        skopeo = new Skopeo(tmp.resolve("skopeo"));
        OciLayout layout = new OciLayout(tmp.resolve("layout"));
        oci = layout.image("oci", Content.of("pull-oci"));
        v2s2Source = layout.image("v2s2", Content.of("pull-v2s2"));
        hub = layout.image("hub", Content.of("pull-hub"));
        amd64 = layout.image("amd64", Content.of("pull-multi").arch("amd64"));
        arm64 = layout.image("arm64", Content.of("pull-multi").arch("arm64"));
        index = layout.index("multi", List.of(amd64, arm64), List.of("amd64", "arm64"));

        upstream = DockerRegistry.start(tmp.resolve("upstream"));
        skopeo.push(layout.ref("oci"), upstream.host() + "/pull/oci:1");
        skopeo.push(layout.ref("v2s2"), upstream.host() + "/pull/v2s2:1", "--format", "v2s2");
        skopeo.push(layout.ref("hub"), upstream.host() + "/library/busybox:1");
        skopeo.push(layout.ref("multi"), upstream.host() + "/pull/multi:1", "--all");

        kiln = KilnProcess.configure("mirror-pull", tmp.resolve("kiln").resolve("store")).jvmOptions("-Xmx512m")
                .args("--upstream", "up=" + upstream.url(), "--upstream", "docker.io=" + upstream.url()).start();
    }

    @AfterAll
    static void stop() {
        if (kiln != null) {
            kiln.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    void ociImageColdThenWarmByTagThenByDigest() throws IOException {
        Path direct = pull("--src-tls-verify=false", "docker://" + upstream.host() + "/pull/oci:1");
        assertEquals(oci.digest(), Skopeo.manifestDigest(direct));
        Map<String, Long> before = blobGets(oci);
        double missesBefore = kiln.metric("kiln_mirror_misses_total", "upstream=up");
        double hitsBefore = kiln.metric("kiln_mirror_hits_total", "upstream=up");
        double bytesBefore = kiln.metric("kiln_mirror_bytes_from_upstream_total", "upstream=up");

        Path cold = pull("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/up/pull/oci:1");
        assertSameCopy(direct, cold);
        assertEquals(plusOne(before), Poll.settle(plusOne(before), () -> blobGets(oci)), "a cold pull fetches each blob from upstream once");
        assertEquals(3, kiln.metric("kiln_mirror_misses_total", "upstream=up") - missesBefore, "manifest, config and layer missed");
        assertEquals(oci.config().size() + oci.layers().get(0).size(),
                kiln.metric("kiln_mirror_bytes_from_upstream_total", "upstream=up") - bytesBefore);
        assertTrue(Files.exists(kiln.blobFile(oci.layers().get(0).digest())), "the layer is cached in the store");

        long manifestGets = upstream.count("GET", "/v2/pull/oci/manifests/1");
        Path warm = pull("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/up/pull/oci:1");
        assertSameCopy(direct, warm);
        assertEquals(plusOne(before), blobGets(oci), "a warm pull makes no blob GET upstream");
        assertEquals(manifestGets, upstream.count("GET", "/v2/pull/oci/manifests/1"), "the tag is fresh: no manifest GET either");
        assertEquals(3, kiln.metric("kiln_mirror_hits_total", "upstream=up") - hitsBefore, "manifest, config and layer hit");

        long requests = upstream.requests().size();
        Path byDigest = pull("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/up/pull/oci@" + oci.digest());
        assertSameCopy(direct, byDigest);
        assertEquals(requests, upstream.requests().size(), "a manifest by digest is immutable: served without asking upstream");
    }

    @Test
    void dockerV2Schema2ManifestIsServedByteForByte() throws IOException {
        Path direct = pull("--src-tls-verify=false", "docker://" + upstream.host() + "/pull/v2s2:1");
        String digest = Skopeo.manifestDigest(direct);
        assertNotEquals(v2s2Source.digest(), digest, "skopeo converted the manifest to Docker v2s2");
        Map<String, Long> before = blobGets(v2s2Source);

        Path cold = pull("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/up/pull/v2s2:1");
        assertSameCopy(direct, cold);
        Path warm = pull("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/up/pull/v2s2@" + digest);
        assertSameCopy(direct, warm);
        assertEquals(plusOne(before), Poll.settle(plusOne(before), () -> blobGets(v2s2Source)));

        Http.Response response = Http.get(kiln.baseUrl() + "/v2/up/pull/v2s2/manifests/1", "Accept", Http.ACCEPT_ALL);
        assertEquals(200, response.status());
        assertEquals("application/vnd.docker.distribution.manifest.v2+json", response.header("Content-Type"));
        assertEquals(digest, response.header("Docker-Content-Digest"));
        assertEquals(digest, response.digest());
    }

    @Test
    void allOfAnIndexKeepsTheIndexDigest() throws IOException {
        Path direct = pull("--all", "--src-tls-verify=false", "docker://" + upstream.host() + "/pull/multi:1");
        assertEquals(index.digest(), Skopeo.manifestDigest(direct));
        Path cold = pull("--all", "--src-tls-verify=false", "docker://" + kiln.hostPort() + "/up/pull/multi:1");
        assertEquals(index.digest(), Skopeo.manifestDigest(cold));
        assertSameCopy(direct, cold);
        for (Image platform : List.of(amd64, arm64)) {
            assertTrue(Files.exists(cold.resolve(platform.digest().substring(7) + ".manifest.json")), platform.digest());
        }
        Path warm = pull("--all", "--src-tls-verify=false", "docker://" + kiln.hostPort() + "/up/pull/multi@" + index.digest());
        assertSameCopy(direct, warm);
        for (Image platform : List.of(amd64, arm64)) {
            for (OciLayout.Blob blob : platform.blobs()) {
                assertEquals(2L, Poll.settle(2L, () -> upstream.blobGets(blob.digest())), "one direct and one mirrored GET of " + blob.digest());
            }
        }
        // One platform of the index, as a single-platform client picks it.
        Path one = pull("--override-arch", "arm64", "--src-tls-verify=false", "docker://" + kiln.hostPort() + "/up/pull/multi:1");
        assertEquals(arm64.digest(), Skopeo.manifestDigest(one));
    }

    @Test
    void defaultUpstreamAppliesTheLibraryRule() throws IOException {
        Path direct = pull("--src-tls-verify=false", "docker://" + upstream.host() + "/library/busybox:1");
        assertEquals(hub.digest(), Skopeo.manifestDigest(direct));
        Path shortName = pull("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/busybox:1");
        assertSameCopy(direct, shortName);
        Map<String, Long> after = blobGets(hub);
        Path longName = pull("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/library/busybox:1");
        assertSameCopy(direct, longName);
        assertEquals(after, blobGets(hub), "busybox and library/busybox share one cache");
        assertTrue(kiln.metric("kiln_mirror_hits_total", "upstream=docker.io") >= 3);
    }

    @Test
    void nsParameterRoutesToThatHostsUpstream() throws IOException {
        Http.Response response = Http.get(kiln.baseUrl() + "/v2/library/busybox/manifests/1?ns=docker.io", "Accept", Http.ACCEPT_ALL);
        assertEquals(200, response.status(), () -> new String(response.body()));
        assertEquals(hub.digest(), response.header("Docker-Content-Digest"));
        assertEquals(hub.digest(), response.digest());

        String layer = hub.layers().get(0).digest();
        Http.Response blob = Http.get(kiln.baseUrl() + "/v2/busybox/blobs/" + layer + "?ns=registry-1.docker.io");
        assertEquals(200, blob.status());
        assertEquals(layer, blob.digest());

        Http.Response viaUp = Http.get(kiln.baseUrl() + "/v2/pull/oci/manifests/" + oci.digest() + "?ns=up", "Accept", Http.ACCEPT_ALL);
        assertEquals(200, viaUp.status());
        assertEquals(oci.digest(), viaUp.digest());

        Http.Response unknown = Http.get(kiln.baseUrl() + "/v2/library/busybox/manifests/1?ns=ghcr.io", "Accept", Http.ACCEPT_ALL);
        assertEquals(404, unknown.status());
        assertEquals("NAME_UNKNOWN", unknown.errorCode());
    }

    @Test
    void pushToAMirroredNameIsDenied() throws IOException {
        Http.Response upload = Http.send("POST", kiln.baseUrl() + "/v2/busybox/blobs/uploads/");
        assertEquals(403, upload.status());
        assertEquals("DENIED", upload.errorCode());
        assertTrue(upload.errorMessage().contains("local/"), upload.errorMessage());

        Http.Response manifest = Http.send("PUT", kiln.baseUrl() + "/v2/up/pull/oci/manifests/2", "Content-Type", OciLayout.OCI_MANIFEST);
        assertEquals(403, manifest.status());
        assertEquals("DENIED", manifest.errorCode());

        ExecResult push = skopeo.copy("--dest-tls-verify=false", "oci:" + tmp.resolve("layout") + ":oci",
                "docker://" + kiln.hostPort() + "/up/pull/pushed:1");
        assertNotEquals(0, push.exitCode(), push.output());
        assertTrue(push.output().toLowerCase().contains("denied"), push.output());
        assertEquals(0, upstream.count("GET", "/v2/pull/pushed/manifests/1") + upstream.count("PUT", "/v2/pull/pushed/manifests/1"));
    }

    // ---- helpers

    private static int copies;

    private static Path pull(String... args) {
        Path target = tmp.resolve("copy-" + ++copies);
        String[] all = Stream.concat(Stream.of(args), Stream.of("dir:" + target)).toArray(String[]::new);
        skopeo.copy(all).requireSuccess();
        return target;
    }

    private static Map<String, Long> blobGets(Image image) {
        Map<String, Long> counts = new TreeMap<>();
        image.blobs().forEach(blob -> counts.put(blob.digest(), upstream.blobGets(blob.digest())));
        return counts;
    }

    private static Map<String, Long> plusOne(Map<String, Long> counts) {
        Map<String, Long> result = new TreeMap<>();
        counts.forEach((digest, count) -> result.put(digest, count + 1));
        return result;
    }

    /** Two {@code dir:} copies hold the same files with the same bytes (skopeo names blobs by digest). */
    private static void assertSameCopy(Path expected, Path actual) throws IOException {
        List<String> names;
        try (Stream<Path> files = Files.list(expected)) {
            names = files.map(p -> p.getFileName().toString()).sorted().toList();
        }
        try (Stream<Path> files = Files.list(actual)) {
            assertEquals(names, files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        for (String name : names) {
            assertArrayEquals(Files.readAllBytes(expected.resolve(name)), Files.readAllBytes(actual.resolve(name)), name);
        }
    }
}
