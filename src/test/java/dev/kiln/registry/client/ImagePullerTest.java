package dev.kiln.registry.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.OciLayout;
import dev.kiln.testkit.Ports;
import dev.kiln.testkit.Skopeo;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImagePullerTest {
    @TempDir
    static Path dir;
    static DockerRegistry registry;
    static OciLayout.Built amd64;
    static OciLayout.Built arm64;

    @BeforeAll
    static void pushImagesWithSkopeo() throws IOException {
        registry = DockerRegistry.start(dir.resolve("registry"));
        Path single = dir.resolve("single");
        OciLayout singleLayout = new OciLayout(single);
        amd64 = singleLayout.platformImage("linux", "amd64", null, "amd64");
        singleLayout.tag("v1", amd64.manifest());
        new Skopeo(dir.resolve("skopeo")).copyPlainHttp("oci:" + single + ":v1", "docker://" + registry.host() + "/test/busybox:v1");

        Path multi = dir.resolve("multi");
        OciLayout multiLayout = new OciLayout(multi);
        OciLayout.Built a = multiLayout.platformImage("linux", "amd64", null, "amd64");
        arm64 = multiLayout.platformImage("linux", "arm64", "v8", "arm64");
        Descriptor index = multiLayout.platformIndex(List.of(arm64, a), List.of(
                new Descriptor.Platform("arm64", "linux", "v8", null, null),
                new Descriptor.Platform("amd64", "linux", null, null, null)));
        multiLayout.tag("multi", index);
        new Skopeo(dir.resolve("skopeo")).copyPlainHttp("--all", "oci:" + multi + ":multi", "docker://" + registry.host() + "/test/multi:1");
    }

    @AfterAll
    static void stop() {
        registry.close();
    }

    private static ImagePuller puller(Path cache, MirrorRoutes routes, Set<String> insecure) {
        return new ImagePuller(new Registries(insecure, host -> Optional.empty(), Duration.ofSeconds(2), Duration.ofSeconds(20)),
                routes, new BlobCache(cache), Retry.NONE);
    }

    private static ImagePuller puller(Path cache) {
        return puller(cache, MirrorRoutes.none(), Set.of(registry.host()));
    }

    @Test
    void pullsAnImagePushedBySkopeoAndVerifiesEveryBlob() throws IOException {
        Path cache = dir.resolve("cache-single");
        PulledImage image = puller(cache).pull(ImageReference.parse(registry.host() + "/test/busybox:v1"));
        assertEquals(amd64.manifest().parsedDigest(), image.manifestDigest());
        assertArrayEquals(amd64.manifestBytes(), image.manifestBytes());
        assertNull(image.indexDigest());
        assertEquals("amd64", image.config().config().labels().get("marker"));
        assertEquals(2, image.layers().size());
        assertEquals(2, image.config().diffIds().size());
        for (PulledImage.Blob blob : image.blobs()) {
            try (InputStream in = Files.newInputStream(blob.file())) {
                assertEquals(blob.digest(), Digester.digest(in, "sha256"));
            }
            assertEquals(cache.resolve("sha256").resolve(blob.digest().hex()), blob.file());
        }
        assertEquals(registry.host() + "/test/busybox:v1@" + image.manifestDigest(), image.source().toString());
    }

    @Test
    void blobsAlreadyInTheCacheAreNotDownloadedAgain() throws IOException {
        Path cache = dir.resolve("cache-again");
        ImagePuller puller = puller(cache);
        PulledImage first = puller.pull(ImageReference.parse(registry.host() + "/test/busybox:v1"));
        FileTime old = FileTime.fromMillis(1_000_000_000L);
        for (PulledImage.Blob blob : first.blobs()) {
            Files.setLastModifiedTime(blob.file(), old);
        }
        PulledImage second = puller.pull(ImageReference.parse(registry.host() + "/test/busybox@" + first.manifestDigest()));
        for (PulledImage.Blob blob : second.blobs()) {
            assertEquals(old, Files.getLastModifiedTime(blob.file()), "not rewritten: " + blob.digest());
        }
    }

    @Test
    void choosesThePlatformFromAnIndex() throws IOException {
        Path cache = dir.resolve("cache-multi");
        ImageReference ref = ImageReference.parse(registry.host() + "/test/multi:1");
        PulledImage byDefault = puller(cache).pull(ref);
        assertEquals("amd64", byDefault.config().config().labels().get("marker"));
        assertTrue(byDefault.indexDigest() != null);
        PulledImage arm = puller(cache).pull(ref, ImagePuller.Platform.parse("linux/arm64"));
        assertEquals("arm64", arm.config().config().labels().get("marker"));
        assertEquals(arm64.manifest().parsedDigest(), arm.manifestDigest());
        assertEquals(arm.manifestDigest(), puller(cache).pull(ref, ImagePuller.Platform.parse("linux/arm64/v8")).manifestDigest());
        IOException e = assertThrows(IOException.class, () -> puller(cache).pull(ref, ImagePuller.Platform.parse("linux/s390x")));
        assertTrue(e.getMessage().contains("linux/s390x") && e.getMessage().contains("linux/arm64/v8"), e.getMessage());
    }

    @Test
    void triesMirrorsInOrderAndSkipsADeadOne() throws IOException {
        int dead = Ports.freePort();
        try (DockerRegistry mirror = DockerRegistry.start(dir.resolve("mirror"))) {
            new Skopeo(dir.resolve("skopeo")).copyPlainHttp("docker://" + registry.host() + "/test/busybox:v1", "docker://" + mirror.host() + "/prefix/team/app:v1");
            String deadHost = "127.0.0.1:" + dead;
            MirrorRoutes routes = MirrorRoutes.of(List.of(),
                    List.of("origin.invalid=" + deadHost + ";" + mirror.host() + "/prefix"), true);
            ImageReference ref = ImageReference.parse("origin.invalid/team/app:v1");
            assertEquals(List.of(deadHost + "/team/app:v1", mirror.host() + "/prefix/team/app:v1"),
                    routes.candidates(ref).stream().map(ImageReference::toString).toList());
            PulledImage image = puller(dir.resolve("cache-mirror"), routes, Set.of(deadHost, mirror.host(), "origin.invalid")).pull(ref);
            assertEquals(mirror.host(), image.source().registry());
            assertEquals(amd64.manifest().parsedDigest(), image.manifestDigest());

            // A mirror without the image (404) falls through to the original registry.
            MirrorRoutes toOrigin = MirrorRoutes.of(List.of(), List.of(registry.host() + "=" + mirror.host()), false);
            PulledImage fromOrigin = puller(dir.resolve("cache-origin"), toOrigin, Set.of(mirror.host(), registry.host()))
                    .pull(ImageReference.parse(registry.host() + "/test/busybox:v1"));
            assertEquals(registry.host(), fromOrigin.source().registry());

            // With skip-default-fallback and only dead mirrors, the pull fails and names every failure.
            MirrorRoutes onlyDead = MirrorRoutes.of(List.of(), List.of(registry.host() + "=" + deadHost), true);
            IOException e = assertThrows(IOException.class, () -> puller(dir.resolve("cache-dead"), onlyDead,
                    Set.of(deadHost, registry.host())).pull(ImageReference.parse(registry.host() + "/test/busybox:v1")));
            assertTrue(e.getMessage().contains("unreachable"), e.getMessage());
        }
    }

    @Test
    void dockerHubMirrorsGetLibraryPrefixAndPrefixPath() {
        MirrorRoutes routes = MirrorRoutes.of(List.of("https://mirror.example:5000/hub", "m2.example"),
                List.of("index.docker.io=m3.example", "quay.io=q.example"), false);
        assertEquals(List.of("mirror.example:5000/hub/library/busybox:latest", "m2.example/library/busybox:latest",
                        "m3.example/library/busybox:latest", "docker.io/library/busybox:latest"),
                routes.candidates(ImageReference.parse("busybox")).stream().map(ImageReference::toString).toList());
        assertEquals(List.of("q.example/a/b:1", "quay.io/a/b:1"),
                routes.candidates(ImageReference.parse("quay.io/a/b:1")).stream().map(ImageReference::toString).toList());
        assertEquals(List.of("ghcr.io/x:1"),
                MirrorRoutes.of(List.of("m"), List.of(), true).candidates(ImageReference.parse("ghcr.io/x:1"))
                        .stream().map(ImageReference::toString).toList());
    }

    @Test
    void aTamperedBlobInTheRegistryIsADigestError() throws IOException {
        try (DockerRegistry own = DockerRegistry.start(dir.resolve("tamper"))) {
            new Skopeo(dir.resolve("skopeo")).copyPlainHttp("docker://" + registry.host() + "/test/busybox:v1", "docker://" + own.host() + "/t/app:v1");
            Descriptor marker = amd64.layers().get(1);
            Path data = own.blobData(marker.digest());
            byte[] bytes = Files.readAllBytes(data);
            bytes[bytes.length / 2] ^= 0x55;
            Files.write(data, bytes);
            Path cache = dir.resolve("cache-tamper");
            ImagePuller puller = new ImagePuller(new Registries(Set.of(own.host()), host -> Optional.empty()), MirrorRoutes.none(),
                    new BlobCache(cache), new Retry(1, Duration.ofMillis(10)));
            IOException e = assertThrows(IOException.class, () -> puller.pull(ImageReference.parse(own.host() + "/t/app:v1")));
            assertTrue(e instanceof DigestMismatchException, e.toString());
            assertTrue(e.getMessage().contains(marker.digest()), e.getMessage());
            assertFalse(Files.exists(cache.resolve("sha256").resolve(Digest.parse(marker.digest()).hex())), "nothing kept");
            try (var files = Files.list(cache.resolve("sha256"))) {
                assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".partial")), "no partial files left");
            }
        }
    }
}
