package dev.kiln.registry.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.image.ImageReference;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.OciLayout;
import dev.kiln.testkit.Skopeo;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImagePusherTest {
    @TempDir
    static Path dir;
    static DockerRegistry source;
    static PulledImage image;
    static long totalBytes;

    @BeforeAll
    static void pullAnImage() throws IOException {
        source = DockerRegistry.start(dir.resolve("source"));
        Path layout = dir.resolve("layout");
        OciLayout oci = new OciLayout(layout);
        OciLayout.Built built = oci.platformImage("linux", "amd64", null, "push");
        oci.tag("v1", built.manifest());
        new Skopeo(dir.resolve("skopeo")).copyPlainHttp("oci:" + layout + ":v1", "docker://" + source.host() + "/src/app:v1");
        image = puller(source).pull(ImageReference.parse(source.host() + "/src/app:v1"));
        totalBytes = image.blobs().stream().mapToLong(b -> b.descriptor().size()).sum();
    }

    @AfterAll
    static void stop() {
        source.close();
    }

    static Registries registries(DockerRegistry... registries) {
        Set<String> hosts = java.util.Arrays.stream(registries).map(DockerRegistry::host).collect(java.util.stream.Collectors.toSet());
        return new Registries(hosts, host -> Optional.empty(), Duration.ofSeconds(2), Duration.ofSeconds(20));
    }

    static ImagePuller puller(DockerRegistry registry) {
        return new ImagePuller(registries(registry), MirrorRoutes.none(), new BlobCache(dir.resolve("cache")), Retry.NONE);
    }

    @Test
    void twoDestinationsOnOneRegistryUploadEachBlobOnceThenMount() throws IOException {
        try (DockerRegistry target = DockerRegistry.start(dir.resolve("two"))) {
            ImagePusher pusher = new ImagePusher(registries(target), new Retry(2, Duration.ofMillis(10)));
            ImagePusher.Result result = pusher.push(ImagePusher.Image.of(image), List.of(
                    ImageReference.parse(target.host() + "/one/app:v1"), ImageReference.parse(target.host() + "/two/app:v2")));
            assertEquals(image.manifestDigest(), result.digest());
            assertEquals(totalBytes, result.bytesUploaded(), "every byte uploaded exactly once");
            ImagePusher.Destination first = result.destinations().get(0);
            ImagePusher.Destination second = result.destinations().get(1);
            assertEquals(3, first.blobsUploaded());
            assertEquals(0, second.bytesUploaded());
            assertEquals(3, second.blobsMounted());
            assertEquals(totalBytes, second.bytesSkipped());
            assertEquals(target.host() + "/two/app:v2@" + image.manifestDigest(), second.reference().toString());

            for (String name : List.of("/one/app:v1", "/two/app:v2")) {
                PulledImage back = new ImagePuller(registries(target), MirrorRoutes.none(), new BlobCache(dir.resolve("back" + name.hashCode())),
                        Retry.NONE).pull(ImageReference.parse(target.host() + name));
                assertArrayEquals(image.manifestBytes(), back.manifestBytes());
                assertEquals(image.config(), back.config());
            }

            // Everything is there now: a second push only asks (HEAD) and uploads nothing.
            ImagePusher.Result again = pusher.push(ImagePusher.Image.of(image), List.of(ImageReference.parse(target.host() + "/one/app:v1")));
            assertEquals(0, again.bytesUploaded());
            assertEquals(3, again.destinations().get(0).blobsExisting());
            assertEquals(totalBytes, again.bytesSkipped());
        }
    }

    @Test
    void mountsFromAKnownSourceRepository() throws IOException {
        try (DockerRegistry target = DockerRegistry.start(dir.resolve("mount"))) {
            ImagePusher pusher = new ImagePusher(registries(target), Retry.NONE);
            pusher.push(ImagePusher.Image.of(image), List.of(ImageReference.parse(target.host() + "/cache/app:key")));
            ImagePusher.Result result = pusher.push(ImagePusher.Image.of(image),
                    List.of(ImageReference.parse(target.host() + "/final/app:1")), ImageReference.parse(target.host() + "/cache/app"));
            assertEquals(0, result.bytesUploaded());
            assertEquals(3, result.destinations().get(0).blobsMounted());
        }
    }

    @Test
    void pushesByDigestAndRefusesAMismatchedDigest() throws IOException {
        try (DockerRegistry target = DockerRegistry.start(dir.resolve("digest"))) {
            ImagePusher pusher = new ImagePusher(registries(target), Retry.NONE);
            ImagePusher.Result result = pusher.push(ImagePusher.Image.of(image),
                    List.of(ImageReference.parse(target.host() + "/d/app@" + image.manifestDigest())));
            assertEquals(totalBytes, result.bytesUploaded());
            IOException e = assertThrows(IOException.class, () -> pusher.push(ImagePusher.Image.of(image),
                    List.of(ImageReference.parse(target.host() + "/d/app@sha256:" + "0".repeat(64)))));
            assertTrue(e.getMessage().contains(image.manifestDigest().toString()), e.getMessage());
        }
    }
}
