package dev.kiln.oci.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.InvalidNameException;
import org.junit.jupiter.api.Test;

class ImageReferenceTest {
    private static final String D = "sha256:" + "a".repeat(64);

    @Test
    void normalisesLikeDocker() {
        String[][] table = {
                // input, registry, repository, tag, digest, canonical
                {"busybox", "docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest"},
                {"busybox:1.36", "docker.io", "library/busybox", "1.36", null, "docker.io/library/busybox:1.36"},
                {"library/busybox", "docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest"},
                {"docker.io/busybox", "docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest"},
                {"index.docker.io/busybox", "docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest"},
                {"bitnami/redis:7", "docker.io", "bitnami/redis", "7", null, "docker.io/bitnami/redis:7"},
                {"quay.io/coreos/etcd", "quay.io", "coreos/etcd", "latest", null, "quay.io/coreos/etcd:latest"},
                {"localhost/app", "localhost", "app", "latest", null, "localhost/app:latest"},
                {"localhost:5000/app:v1", "localhost:5000", "app", "v1", null, "localhost:5000/app:v1"},
                {"127.0.0.1:5000/a/b/c", "127.0.0.1:5000", "a/b/c", "latest", null, "127.0.0.1:5000/a/b/c:latest"},
                {"myhost:5000/app", "myhost:5000", "app", "latest", null, "myhost:5000/app:latest"},
                {"myhost/app", "docker.io", "myhost/app", "latest", null, "docker.io/myhost/app:latest"},
                {"[::1]:5000/app", "[::1]:5000", "app", "latest", null, "[::1]:5000/app:latest"},
                {"busybox@" + D, "docker.io", "library/busybox", null, D, "docker.io/library/busybox@" + D},
                {"ghcr.io/o/r:t@" + D, "ghcr.io", "o/r", "t", D, "ghcr.io/o/r:t@" + D},
        };
        for (String[] row : table) {
            ImageReference ref = ImageReference.parse(row[0]);
            assertEquals(row[1], ref.registry(), row[0]);
            assertEquals(row[2], ref.repository().value(), row[0]);
            assertEquals(row[3], ref.tag(), row[0]);
            assertEquals(row[4], ref.digest() == null ? null : ref.digest().toString(), row[0]);
            assertEquals(row[5], ref.toString(), row[0]);
            assertEquals(ref, ImageReference.parse(ref.toString()), "canonical form parses back: " + row[0]);
        }
    }

    @Test
    void contextAndReference() {
        ImageReference ref = ImageReference.parse("busybox:1.36");
        assertEquals("docker.io/library/busybox", ref.context());
        assertEquals("1.36", ref.reference());
        assertEquals(D, ref.withDigest(dev.kiln.oci.Digest.parse(D)).reference());
        assertEquals("localhost:5000/x:y", ImageReference.parse("a.io/x:y").withRegistry("localhost:5000").toString());
    }

    @Test
    void rejectsMalformedReferencesWithClearMessages() {
        String[][] table = {
                {"", "empty"},
                {"Busybox", "lower-case"},
                {"busybox:", "invalid tag"},
                {"busybox:-x", "invalid tag"},
                {"busybox@sha256:abc", "invalid digest"},
                {"busybox@md5:" + "a".repeat(32), "invalid digest"},
                {"quay.io/", "no repository"},
                {"a//b", "path component"},
                {"a/../b", "path component"},
                {" busybox", "whitespace"},
                {"bad_host.io:x/app", "invalid registry"},
                {"foo/Bar", "lower-case"},
        };
        for (String[] row : table) {
            InvalidNameException e = assertThrows(InvalidNameException.class, () -> ImageReference.parse(row[0]), row[0]);
            assertTrue(e.getMessage().contains(row[1]), row[0] + " -> " + e.getMessage());
        }
    }
}
