package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import dev.kiln.testkit.TestImages.Image;
import dev.kiln.testkit.TestImages.Layout;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Debian's skopeo against the packaged jar: push, pull, inspect, copy, delete, list-tags. */
class SkopeoInteropIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path work;

    static KilnProcess kiln;
    static Skopeo skopeo;
    static Layout busybox;
    static Layout multi;

    @BeforeAll
    static void start() {
        skopeo = new Skopeo(work.resolve("skopeo"));
        busybox = TestImages.busybox(work.resolve("busybox"));
        multi = TestImages.multiPlatform(work.resolve("multi"));
        kiln = KilnProcess.start("skopeo", work.resolve("store"));
    }

    @AfterAll
    static void stop() {
        if (kiln != null) {
            kiln.stop();
        }
    }

    private static String docker(String repoAndTag) {
        return "docker://" + kiln.hostPort() + "/" + repoAndTag;
    }

    private static String push(Layout layout, String repoAndTag, String... options) throws IOException {
        Path digestFile = Files.createTempFile(work, "digest", ".txt");
        List<String> args = new ArrayList<>(List.of("copy", "--dest-tls-verify=false", "--digestfile", digestFile.toString()));
        args.addAll(List.of(options));
        args.add(layout.reference());
        args.add(docker(repoAndTag));
        skopeo.run(args.toArray(String[]::new));
        return Files.readString(digestFile).trim();
    }

    private static String remoteDigest(String repoAndTag) {
        return skopeo.run("inspect", "--tls-verify=false", "--format", "{{.Digest}}", docker(repoAndTag)).stdout().trim();
    }

    private static JsonNode inspect(String repoAndTag) throws IOException {
        return JSON.readTree(skopeo.run("inspect", "--tls-verify=false", docker(repoAndTag)).stdoutBytes());
    }

    /** The manifest an OCI layout's index.json names {@code ref}, as (digest, bytes of the manifest). */
    private static String layoutTopDigest(Path layout, String ref) throws IOException {
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        for (JsonNode descriptor : index.get("manifests")) {
            JsonNode name = descriptor.path("annotations").path(TestImages.REF_NAME);
            if (name.asText().equals(ref)) {
                return descriptor.get("digest").asText();
            }
        }
        throw new AssertionError("no manifest named " + ref + " in " + index);
    }

    private static Path layoutBlob(Path layout, String digest) {
        return layout.resolve("blobs").resolve("sha256").resolve(digest.substring("sha256:".length()));
    }

    private static List<String> layerDigests(byte[] manifest) throws IOException {
        List<String> digests = new ArrayList<>();
        JSON.readTree(manifest).get("layers").forEach(layer -> digests.add(layer.get("digest").asText()));
        return digests;
    }

    private static String configDigest(byte[] manifest) throws IOException {
        return JSON.readTree(manifest).get("config").get("digest").asText();
    }

    /** Each blob in the layout or dir hashes to its digest: what skopeo wrote is what Kiln served. */
    private static void assertBlobsVerify(List<Path> files, List<String> digests) {
        for (int i = 0; i < files.size(); i++) {
            assertTrue(Files.isRegularFile(files.get(i)), "missing " + files.get(i));
            assertEquals(digests.get(i), TestImages.sha256(files.get(i)), "content of " + files.get(i));
        }
    }

    @Test
    void ociFormatRoundTripKeepsManifestAndLayerDigests() throws IOException {
        Image image = busybox.image();
        String pushed = push(busybox, "local/busybox:1", "--format", "oci");
        assertEquals(image.digest(), pushed, "skopeo must not rewrite an OCI manifest pushed as OCI");
        assertEquals(image.digest(), remoteDigest("local/busybox:1"));
        assertEquals(image.layerDigests(), textList(inspect("local/busybox:1").get("Layers")));

        // Back out to an OCI layout: same manifest digest, same layer and config bytes.
        Path out = work.resolve("oci-out");
        skopeo.run("copy", "--src-tls-verify=false", docker("local/busybox:1"), "oci:" + out + ":copy");
        String outDigest = layoutTopDigest(out, "copy");
        assertEquals(image.digest(), outDigest);
        byte[] outManifest = Files.readAllBytes(layoutBlob(out, outDigest));
        assertArrayEquals(image.manifest().bytes(), outManifest, "manifest bytes");
        assertEquals(image.layerDigests(), layerDigests(outManifest));
        assertBlobsVerify(List.of(layoutBlob(out, image.layerDigests().get(0)), layoutBlob(out, image.config().digest())),
                List.of(image.layerDigests().get(0), image.config().digest()));

        // And to a dir: destination, whose manifest.json skopeo itself digests.
        Path dir = work.resolve("dir-out");
        skopeo.run("copy", "--src-tls-verify=false", docker("local/busybox:1"), "dir:" + dir);
        assertEquals(image.digest(), skopeo.run("manifest-digest", dir.resolve("manifest.json").toString()).stdout().trim());
        byte[] dirManifest = Files.readAllBytes(dir.resolve("manifest.json"));
        assertEquals(image.layerDigests(), layerDigests(dirManifest));
        assertBlobsVerify(List.of(dir.resolve(image.layers().get(0).hex()), dir.resolve(image.config().hex())),
                List.of(image.layerDigests().get(0), image.config().digest()));

        // The layer that came back is a real root filesystem, as GNU tar reads it.
        ExecResult listing = Tools.run(List.of("tar", "-tvzf", dir.resolve(image.layers().get(0).hex()).toString()), Map.of(), 60);
        assertTrue(listing.ok(), listing.output());
        List<String> names = listing.stdout().lines().map(line -> line.substring(line.indexOf(" bin/") >= 0
                ? line.indexOf(" bin/") + 1 : line.indexOf(" etc/") + 1)).toList();
        assertEquals(List.of("bin/", "bin/busybox", "bin/ls -> busybox", "bin/sh -> busybox", "etc/", "etc/os-release"), names);
        assertTrue(listing.stdout().contains("-rwxr-xr-x root/root"), listing.stdout());
    }

    @Test
    void dockerV2s2FormatRoundTripKeepsManifestAndLayerDigests() throws IOException {
        Image image = busybox.image();
        String pushed = push(busybox, "local/busybox-v2:1", "--format", "v2s2");
        assertFalse(pushed.equals(image.digest()), "v2s2 conversion must produce a different manifest");
        assertEquals(pushed, remoteDigest("local/busybox-v2:1"));
        byte[] raw = skopeo.run("inspect", "--tls-verify=false", "--raw", docker("local/busybox-v2:1")).stdoutBytes();
        assertEquals(pushed, TestImages.sha256(raw), "the registry serves the exact bytes that were pushed");
        assertEquals("application/vnd.docker.distribution.manifest.v2+json", JSON.readTree(raw).get("mediaType").asText());
        assertEquals(image.layerDigests(), layerDigests(raw), "gzip layers keep their digests across the conversion");
        assertEquals(image.config().digest(), configDigest(raw));

        Path dir = work.resolve("dir-v2");
        skopeo.run("copy", "--src-tls-verify=false", docker("local/busybox-v2:1"), "dir:" + dir);
        assertEquals(pushed, skopeo.run("manifest-digest", dir.resolve("manifest.json").toString()).stdout().trim());
        assertBlobsVerify(List.of(dir.resolve(image.layers().get(0).hex()), dir.resolve(image.config().hex())),
                List.of(image.layerDigests().get(0), image.config().digest()));

        // An OCI layout cannot hold a Docker manifest: skopeo converts it (and re-serialises the config);
        // the layers keep their digests and the config still names the same diff_ids.
        Path out = work.resolve("oci-v2");
        skopeo.run("copy", "--src-tls-verify=false", docker("local/busybox-v2:1"), "oci:" + out + ":copy");
        byte[] outManifest = Files.readAllBytes(layoutBlob(out, layoutTopDigest(out, "copy")));
        assertEquals(image.layerDigests(), layerDigests(outManifest));
        String outConfig = configDigest(outManifest);
        assertBlobsVerify(List.of(layoutBlob(out, image.layerDigests().get(0)), layoutBlob(out, outConfig)),
                List.of(image.layerDigests().get(0), outConfig));
        assertEquals(image.diffIds(), textList(JSON.readTree(layoutBlob(out, outConfig).toFile()).get("rootfs").get("diff_ids")));
    }

    @Test
    void inspectShowsTheConfig() throws IOException {
        Image image = busybox.image();
        push(busybox, "local/inspect:1", "--format", "oci");
        JsonNode info = inspect("local/inspect:1");
        assertEquals("amd64", info.get("Architecture").asText());
        assertEquals("linux", info.get("Os").asText());
        assertEquals("busybox-amd64", info.get("Labels").get("dev.kiln.test").asText());
        assertEquals("PATH=/bin", info.get("Env").get(0).asText());
        assertEquals(image.digest(), info.get("Digest").asText());

        byte[] config = skopeo.run("inspect", "--tls-verify=false", "--config", "--raw", docker("local/inspect:1")).stdoutBytes();
        assertArrayEquals(image.config().bytes(), config, "the config blob comes back byte for byte");
        JsonNode parsed = JSON.readTree(config);
        assertEquals(image.diffIds(), textList(parsed.get("rootfs").get("diff_ids")));
    }

    @Test
    void copyAllKeepsTheMultiPlatformIndexByteForByte() throws IOException {
        String pushed = push(multi, "local/multi:1", "--all");
        assertEquals(multi.index().digest(), pushed);
        byte[] raw = skopeo.run("inspect", "--tls-verify=false", "--raw", docker("local/multi:1")).stdoutBytes();
        assertArrayEquals(multi.index().bytes(), raw, "the index is stored and served as pushed");

        for (Image image : multi.images()) {
            byte[] child = skopeo.run("inspect", "--tls-verify=false", "--raw", docker("local/multi@" + image.digest())).stdoutBytes();
            assertArrayEquals(image.manifest().bytes(), child, "manifest for " + image.architecture());
            JsonNode info = JSON.readTree(skopeo.run("inspect", "--tls-verify=false", "--override-arch", image.architecture(),
                    docker("local/multi:1")).stdoutBytes());
            assertEquals(image.architecture(), info.get("Architecture").asText());
            assertEquals(image.layerDigests(), textList(info.get("Layers")), "platform " + image.architecture() + " resolves to its manifest");
        }
        assertFalse(multi.images().get(0).layerDigests().equals(multi.images().get(1).layerDigests()),
                "the platforms have different layers");

        Path out = work.resolve("multi-out");
        skopeo.run("copy", "--all", "--src-tls-verify=false", docker("local/multi:1"), "oci:" + out + ":copy");
        assertEquals(multi.index().digest(), layoutTopDigest(out, "copy"));
        for (Image image : multi.images()) {
            assertBlobsVerify(List.of(layoutBlob(out, image.digest()), layoutBlob(out, image.layerDigests().get(0))),
                    List.of(image.digest(), image.layerDigests().get(0)));
        }
    }

    @Test
    void copyBetweenRepositoriesMountsTheLayer() throws IOException {
        Image image = busybox.image();
        push(busybox, "local/a:1", "--format", "oci");
        int logStart = kiln.log().length();
        skopeo.run("copy", "--src-tls-verify=false", "--dest-tls-verify=false", docker("local/a:1"), docker("local/b:1"));
        assertEquals(image.digest(), remoteDigest("local/b:1"));
        assertEquals(image.layerDigests(), textList(inspect("local/b:1").get("Layers")));

        String log = kiln.log().substring(logStart);
        String layer = image.layerDigests().get(0).replace(":", "%3A");
        assertTrue(Pattern.compile("\"POST /v2/local/b/blobs/uploads/\\?[^\"]*mount=" + layer + "[^\"]*\" 201").matcher(log).find(),
                "skopeo mounts the layer from local/a and Kiln answers 201; access log:\n" + log);
        assertFalse(log.contains("digest=" + layer), "the layer was uploaded again instead of mounted:\n" + log);
    }

    @Test
    void deleteThenInspectSaysManifestUnknown() throws IOException {
        push(busybox, "local/deleted:1", "--format", "oci");
        assertEquals(busybox.image().digest(), remoteDigest("local/deleted:1"));
        skopeo.run("delete", "--tls-verify=false", docker("local/deleted:1"));
        ExecResult after = skopeo.tryRun("inspect", "--tls-verify=false", docker("local/deleted:1"));
        assertFalse(after.ok(), "inspect after delete must fail:\n" + after.output());
        assertTrue(after.output().contains("manifest unknown"), after.output());
        ExecResult byDigest = skopeo.tryRun("inspect", "--tls-verify=false", "--raw", docker("local/deleted@" + busybox.image().digest()));
        assertFalse(byDigest.ok(), "the manifest is gone by digest too:\n" + byDigest.output());
        assertTrue(byDigest.output().contains("manifest unknown"), byDigest.output());
    }

    @Test
    void listTags() throws IOException {
        for (String tag : List.of("1.0", "latest", "2")) {
            push(busybox, "local/tagged:" + tag, "--format", "oci");
        }
        JsonNode tags = JSON.readTree(skopeo.run("list-tags", "--tls-verify=false", "docker://" + kiln.hostPort() + "/local/tagged")
                .stdoutBytes());
        assertEquals(kiln.hostPort() + "/local/tagged", tags.get("Repository").asText());
        assertEquals(List.of("1.0", "2", "latest"), textList(tags.get("Tags")).stream().sorted().toList());

        ExecResult unknown = skopeo.tryRun("list-tags", "--tls-verify=false", "docker://" + kiln.hostPort() + "/local/never-pushed");
        assertFalse(unknown.ok(), unknown.output());
    }

    private static List<String> textList(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(node -> values.add(node.asText()));
        return values;
    }
}
