package dev.kiln.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.OciLayout.Content;
import dev.kiln.testkit.OciLayout.Image;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.OciLayout;
import dev.kiln.testkit.Poll;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.Slowness;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code --cache-max-bytes}: mirrored content is evicted least recently pulled first; local images never. */
@Timeout(value = 15, unit = TimeUnit.MINUTES) // against a hang only: every wait inside is scaled by Slowness
class MirrorBudgetIT {
    static final long BUDGET = 3 << 20;

    @TempDir
    Path tmp;
    Skopeo skopeo;

    private int copies;

    @Test
    void theStoreStaysUnderBudgetByEvictingTheLeastRecentlyPulledMirroredContent() throws Exception {
        skopeo = new Skopeo(tmp.resolve("skopeo"));
        OciLayout layout = new OciLayout(tmp.resolve("layout"));
        Image local = layout.image("local", Content.of("budget-local"));
        Image a = layout.image("a", Content.of("budget-a").withoutBusybox().filler(800 << 10));
        Image b = layout.image("b", Content.of("budget-b").withoutBusybox().filler(800 << 10));
        Image c = layout.image("c", Content.of("budget-c").withoutBusybox().filler(800 << 10));
        try (DockerRegistry upstream = DockerRegistry.start(tmp.resolve("upstream"))) {
            for (String name : List.of("a", "b", "c")) {
                skopeo.push(layout.ref(name), upstream.host() + "/budget/" + name + ":1");
            }
            try (KilnProcess kiln = KilnProcess.configure("mirror-budget", tmp.resolve("kiln").resolve("store")).jvmOptions("-Xmx512m")
                .args("--upstream", "m=" + upstream.url(), "--cache-max-bytes", Long.toString(BUDGET)).start()) {
                skopeo.push(layout.ref("local"), kiln.hostPort() + "/local/app:1");
                assertTrue(size(local) + size(a) + size(b) < BUDGET && size(local) + size(a) + size(b) + size(c) > BUDGET,
                        "the sizes must make the third mirrored image tip the store over budget");

                pull(kiln, "m/budget/a:1", a);
                pull(kiln, "m/budget/b:1", b);
                pull(kiln, "m/budget/a:1", a); // A is now more recently pulled than B
                pull(kiln, "m/budget/c:1", c);

                Duration settle = Slowness.scale(Duration.ofSeconds(20));
                assertTrue(Poll.until(settle, () -> {
                    long bytes = kiln.storeBytes();
                    return bytes >= 0 && bytes <= BUDGET;
                }), () -> "after " + settle.toSeconds() + " s (" + Slowness.describe() + ") the store holds " + kiln.storeBytes()
                        + " bytes, over the budget of " + BUDGET + "; server log:\n" + kiln.logTail());
                // The blob files go first, the counter after the metadata is unlinked: wait for it, do not sample it once.
                assertTrue(Poll.until(settle, () -> kiln.metric("kiln_mirror_evicted_blobs_total") >= 2),
                        () -> "kiln_mirror_evicted_blobs_total is " + kiln.metric("kiln_mirror_evicted_blobs_total")
                                + ", expected at least B's layer and config; server log:\n" + kiln.logTail());
                String listing = listing(kiln, local, a, b, c);
                assertFalse(Files.exists(kiln.blobFile(b.layers().get(0).digest())), () -> "B was least recently pulled: its layer goes first;"
                        + " store, oldest first:\n" + listing + "\nserver log:\n" + kiln.logTail());
                for (Image kept : List.of(a, c, local)) {
                    for (OciLayout.Blob blob : all(kept)) {
                        assertTrue(Files.exists(kiln.blobFile(blob.digest())), () -> "kept " + blob.digest() + "; store, oldest first:\n" + listing
                                + "\nserver log:\n" + kiln.logTail());
                    }
                }
                ExecResult fsck = kiln.fsck();
                assertEquals(0, fsck.exitCode(), "fsck:\n" + fsck.output() + "\nserver log:\n" + kiln.logTail());

                // The local image is whole and pullable.
                pull(kiln, "local/app:1", local);

                // A is served from the store; the evicted B is fetched again.
                long requests = upstream.requests().size();
                pull(kiln, "m/budget/a:1", a);
                assertEquals(requests, upstream.requests().size(), () -> "A was kept whole: no upstream request, but "
                        + upstream.requests().subList((int) requests, upstream.requests().size()) + "; server log:\n" + kiln.logTail());
                long bLayerGets = upstream.blobGets(b.layers().get(0).digest());
                pull(kiln, "m/budget/b:1", b);
                assertEquals(bLayerGets + 1, Poll.settle(bLayerGets + 1, () -> upstream.blobGets(b.layers().get(0).digest())),
                        () -> "evicted content is fetched again; upstream requests " + upstream.requests() + "; server log:\n" + kiln.logTail());
            }
        }
    }

    private void pull(KilnProcess kiln, String reference, Image expected) throws IOException {
        Path copy = tmp.resolve("copy-" + ++copies);
        ExecResult copied = skopeo.copy("--src-tls-verify=false", "docker://" + kiln.hostPort() + "/" + reference, "dir:" + copy);
        assertEquals(0, copied.exitCode(), () -> "pulling " + reference + ":\n" + copied.output() + "\nserver log:\n" + kiln.logTail());
        assertEquals(expected.digest(), Skopeo.manifestDigest(copy), reference);
    }

    /** The store's blobs, oldest first, named by the image they belong to: for failure messages. */
    private static String listing(KilnProcess kiln, Image... images) throws IOException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < images.length; i++) {
            for (OciLayout.Blob blob : all(images[i])) {
                Path file = kiln.blobFile(blob.digest());
                lines.add((Files.exists(file) ? Files.getLastModifiedTime(file).toString() : "(evicted)                  ")
                        + " " + "LABC".charAt(i) + " " + blob.mediaType() + " " + blob.size());
            }
        }
        return String.join("\n", lines.stream().sorted().toList());
    }

    private static List<OciLayout.Blob> all(Image image) {
        List<OciLayout.Blob> blobs = new ArrayList<>(image.blobs());
        blobs.add(image.manifest());
        return blobs;
    }

    private static long size(Image image) {
        return all(image).stream().mapToLong(OciLayout.Blob::size).sum();
    }
}
