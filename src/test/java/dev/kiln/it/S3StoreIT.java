package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.MotoS3;
import dev.kiln.testkit.Http;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import dev.kiln.testkit.TestImages.Layout;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kiln serve --store s3://…} on moto_server: skopeo copies an image in and out, a chunked push
 * lands with its PATCHes on two gateway processes sharing the bucket, and content outlives a restart
 * with an empty local disk (the bucket is the store; the local directory is only a cache).
 */
class S3StoreIT {
    static final String BUCKET = "kiln-it";

    @TempDir
    static Path work;

    static MotoS3 moto;
    static KilnProcess a;
    static KilnProcess b;
    static Skopeo skopeo;

    static KilnProcess start(String name) {
        return KilnProcess.startOn(name, List.of("env", "AWS_ACCESS_KEY_ID=" + MotoS3.ACCESS_KEY,
                        "AWS_SECRET_ACCESS_KEY=" + MotoS3.SECRET_KEY, "AWS_REGION=us-east-1",
                        "KILN_STORE_S3_LOCAL_DIR=" + work.resolve(name + "-local")),
                "s3://" + BUCKET + "/kiln", "--s3-endpoint", moto.endpoint(), "--s3-path-style");
    }

    @BeforeAll
    static void setUp() throws Exception {
        moto = MotoS3.start(work, BUCKET);
        skopeo = new Skopeo(work.resolve("skopeo"));
        a = start("s3-a");
        b = start("s3-b");
    }

    @AfterAll
    static void tearDown() throws IOException {
        for (KilnProcess kiln : new KilnProcess[] {a, b}) {
            if (kiln != null) {
                kiln.stop();
            }
        }
        if (moto != null) {
            moto.close();
        }
    }

    private static String failure(String what) {
        return what + "\n--- gateway a:\n" + a.logTail() + "\n--- gateway b:\n" + b.logTail() + "\n--- moto:\n" + moto.logTail();
    }

    @Test
    void skopeoCopiesInOnOneReplicaAndOutFromAnother() throws IOException {
        Layout busybox = TestImages.busybox(work.resolve("busybox"));
        skopeo.run("copy", "--dest-tls-verify=false", "--format", "oci", busybox.reference(),
                "docker://" + a.hostPort() + "/local/busybox:1");
        String digest = skopeo.run("inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                "docker://" + b.hostPort() + "/local/busybox:1").stdout().trim();
        assertEquals(busybox.image().digest(), digest, failure("the tag pushed to a, read on b"));

        Path out = work.resolve("out");
        skopeo.run("copy", "--src-tls-verify=false", "docker://" + b.hostPort() + "/local/busybox:1", "dir:" + out);
        for (var layer : busybox.image().layerDigests()) {
            Path file = out.resolve(layer.substring("sha256:".length()));
            assertEquals(layer, TestImages.sha256(file), failure("layer bytes served by b"));
        }
    }

    @Test
    void aChunkedPushWhosePatchesGoToDifferentReplicasBecomesOneBlob() throws Exception {
        byte[] data = new byte[13 * 1024 * 1024 + 7];
        new Random(17).nextBytes(data);
        String digest = TestImages.sha256(data);
        Http[] replicas = {Http.at(a.baseUrl()), Http.at(b.baseUrl())};
        HttpResponse<String> start = replicas[0].request(HttpRequest.newBuilder(replicas[0].url("v2/local/chunked/blobs/uploads/"))
                .POST(HttpRequest.BodyPublishers.noBody()));
        assertEquals(202, start.statusCode(), failure(start.body()));
        String location = start.headers().firstValue("Location").orElseThrow();
        int chunk = 3 * 1024 * 1024; // below S3's 5 MiB part minimum: the gateways must combine them
        int turn = 1;
        for (int offset = 0; offset < data.length; offset += chunk, turn++) {
            int end = Math.min(data.length, offset + chunk);
            Http replica = replicas[turn % 2];
            HttpResponse<String> patch = replica.request(HttpRequest.newBuilder(replica.url(location))
                    .header("Content-Type", "application/octet-stream")
                    .header("Content-Range", offset + "-" + (end - 1))
                    .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(Arrays.copyOfRange(data, offset, end))));
            assertEquals(202, patch.statusCode(), failure("PATCH " + offset + " on replica " + turn % 2 + ": " + patch.body()));
            assertEquals("0-" + (end - 1), patch.headers().firstValue("Range").orElseThrow());
            location = patch.headers().firstValue("Location").orElse(location);
        }
        Http last = replicas[turn % 2];
        String separator = location.contains("?") ? "&" : "?";
        HttpResponse<String> put = last.request(HttpRequest.newBuilder(last.url(location + separator + "digest=" + digest))
                .PUT(HttpRequest.BodyPublishers.noBody()));
        assertEquals(201, put.statusCode(), failure(put.body()));
        for (Http replica : replicas) {
            HttpResponse<byte[]> blob = replica.getBlob("local/chunked", digest);
            assertEquals(200, blob.statusCode());
            assertArrayEquals(data, blob.body());
        }
    }

    @Test
    void contentSurvivesARestartWithAnEmptyLocalDisk() throws Exception {
        byte[] data = "kept in the bucket".getBytes();
        String digest = TestImages.sha256(data);
        assertEquals(201, Http.at(a.baseUrl()).monolithic("local/kept", data).statusCode());
        a.stop();
        deleteTree(work.resolve("s3-a-local"));
        a = start("s3-a");
        HttpResponse<byte[]> blob = Http.at(a.baseUrl()).getBlob("local/kept", digest);
        assertEquals(200, blob.statusCode(), failure("after restart"));
        assertArrayEquals(data, blob.body());
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path path : (Iterable<Path>) paths.sorted(java.util.Comparator.reverseOrder())::iterator) {
                Files.delete(path);
            }
        }
    }
}
