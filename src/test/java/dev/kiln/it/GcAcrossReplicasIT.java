package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Http;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.S3Replicas;
import dev.kiln.testkit.Poll;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three {@code kiln serve} on one bucket (moto): one collects garbage every second with a
 * three-second grace period, while the two others take pushes that reuse blobs left unreferenced
 * for longer than that (mounted from the repository that holds them, as clients do) and bring new
 * ones. Every push the gateways acknowledged must stay whole: {@code kiln fsck} is clean and skopeo
 * pulls each image with verified digests. Pushes may be refused (the client pushes again), never lost.
 */
class GcAcrossReplicasIT {
    static final String BUCKET = "kiln-gc";
    static final Pattern REMOVED = Pattern.compile("gc \\([^)]*\\): removed (\\d+) blobs");

    @TempDir
    Path work;

    S3Replicas cluster;

    @AfterEach
    void tearDown() {
        if (cluster != null) {
            cluster.close();
        }
    }

    static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    /** One image pushed as a client does; returns whether the gateway acknowledged the manifest. */
    static boolean push(Http gateway, String repo, String tag, byte[] oldLayer, long seed) throws Exception {
        String oldDigest = TestImages.sha256(oldLayer);
        HttpResponse<String> mount = gateway.request(HttpRequest.newBuilder(
                gateway.url("v2/" + repo + "/blobs/uploads/?mount=" + oldDigest + "&from=local/seed")).POST(HttpRequest.BodyPublishers.noBody()));
        if (mount.statusCode() != 201) {
            assertEquals(201, gateway.monolithic(repo, oldLayer).statusCode(), "the old layer pushed again");
        }
        byte[] fresh = random(40_000, seed);
        assertEquals(201, gateway.monolithic(repo, fresh).statusCode());
        byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"push\":\"" + seed
                + "\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}").getBytes(StandardCharsets.UTF_8);
        assertEquals(201, gateway.monolithic(repo, config).statusCode());
        String manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":"
                + "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + TestImages.sha256(config)
                + "\",\"size\":" + config.length + "},\"layers\":["
                + "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" + oldDigest + "\",\"size\":" + oldLayer.length + "},"
                + "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" + TestImages.sha256(fresh)
                + "\",\"size\":" + fresh.length + "}]}";
        HttpResponse<String> put = gateway.request(HttpRequest.newBuilder(gateway.url("v2/" + repo + "/manifests/" + tag))
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .PUT(HttpRequest.BodyPublishers.ofString(manifest)));
        if (put.statusCode() == 201) {
            return true;
        }
        assertEquals(400, put.statusCode(), "a refused push says why: " + put.body());
        assertTrue(put.body().contains("MANIFEST_BLOB_UNKNOWN"), put.body());
        return false;
    }

    @Test
    void pushesDuringCollectionsOnAnotherReplicaAreNeverLost() throws Exception {
        cluster = S3Replicas.start(work, BUCKET);
        KilnProcess collector = cluster.start("gc", "KILN_GC_INTERVAL=1s", "KILN_GC_GRACE=3s");
        KilnProcess p1 = cluster.start("push-1");
        KilnProcess p2 = cluster.start("push-2");

        // blobs nobody references any more, older than the grace period by the time pushes reuse them
        int seeds = 8;
        List<byte[]> old = new ArrayList<>();
        for (int i = 0; i < seeds; i++) {
            old.add(random(30_000, 1000 + i));
            assertEquals(201, Http.at(p1.baseUrl()).monolithic("local/seed", old.get(i)).statusCode(), cluster.logs());
        }
        Poll.sleep(3500);

        List<String> acknowledged = Collections.synchronizedList(new ArrayList<>());
        List<String> refused = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<?>> pushers = new ArrayList<>();
            KilnProcess[] targets = {p1, p2};
            for (int t = 0; t < 2; t++) {
                int pusher = t;
                Http gateway = Http.at(targets[t].baseUrl());
                pushers.add(pool.submit(() -> {
                    for (int i = 0; i < 12; i++) {
                        String ref = "local/app-" + pusher + ":" + i;
                        // half the seeds are reused, the other half stays garbage for the collector
                        byte[] layer = old.get((i % (seeds / 2)) * 2);
                        (push(gateway, "local/app-" + pusher, Integer.toString(i), layer, pusher * 100L + i) ? acknowledged : refused).add(ref);
                        Poll.sleep(250);
                    }
                    return null;
                }));
            }
            for (Future<?> pusher : pushers) {
                pusher.get(5, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
        // let one more collection pass over everything just pushed, then stop collecting
        String before = collector.log();
        assertTrue(Poll.until(Duration.ofSeconds(60), () -> collector.log().length() > before.length()
                && REMOVED.matcher(collector.log().substring(before.length())).find()), "another collection ran" + cluster.logs());
        collector.stop();

        int removed = 0;
        Matcher m = REMOVED.matcher(collector.log());
        while (m.find()) {
            removed += Integer.parseInt(m.group(1));
        }
        assertTrue(removed >= seeds / 2, "the collector ran during the pushes and removed the unused seeds (" + removed + ")" + cluster.logs());
        assertTrue(acknowledged.size() >= 12, "most pushes go through: acknowledged " + acknowledged + ", refused " + refused);

        ExecResult fsck = cluster.command("fsck", "--store", cluster.store());
        assertEquals(0, fsck.exitCode(), "fsck: " + fsck.output() + cluster.logs());

        Skopeo skopeo = new Skopeo(work.resolve("skopeo"));
        for (String ref : acknowledged) {
            Path out = work.resolve("pulled-" + ref.replaceAll("[/:]", "-"));
            ExecResult copy = skopeo.tryRun("copy", "--src-tls-verify=false", "docker://" + p2.hostPort() + "/" + ref, "dir:" + out);
            assertEquals(0, copy.exitCode(), "pull of the acknowledged " + ref + ": " + copy.output() + cluster.logs());
        }
    }
}
