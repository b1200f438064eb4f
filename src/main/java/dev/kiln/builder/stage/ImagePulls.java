package dev.kiln.builder.stage;

import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.Elapsed;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.ImagePuller;
import dev.kiln.registry.client.ImageSource;
import dev.kiln.registry.client.PulledImage;
import dev.kiln.registry.client.TlsTrust;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Consumer;

/**
 * Base images and {@code --from} images, pulled for the build's platform, each pull reported with its
 * size and time. An image is pulled once per build however many stages name it, also when they
 * start at the same time: every stage sees the same digest for a tag, and independent stages on one
 * base do not fetch and verify it side by side.
 */
public final class ImagePulls {
    private final ImageSource source;
    private final ImagePuller.Platform platform;
    private final Consumer<BuildEvent> events;
    private final ConcurrentMap<String, CompletableFuture<PulledImage>> pulled = new ConcurrentHashMap<>();

    public ImagePulls(ImageSource source, String platform, Consumer<BuildEvent> events) {
        this.source = source;
        this.platform = ImagePuller.Platform.parse(platform);
        this.events = events;
    }

    /** @param where the Dockerfile line that names the image ({@code Dockerfile:3: }), or empty */
    public PulledImage pull(String image, String where) throws BuildException {
        CompletableFuture<PulledImage> mine = new CompletableFuture<>();
        CompletableFuture<PulledImage> first = pulled.putIfAbsent(image, mine);
        if (first != null) {
            PulledImage done = first.exceptionally(e -> null).join();
            // a failed pull is not remembered: this stage tries again and fails with its own line
            return done != null ? done : pull(image, where);
        }
        try {
            PulledImage done = fetch(image, where);
            mine.complete(done);
            return done;
        } catch (BuildException | RuntimeException e) {
            pulled.remove(image, mine);
            mine.completeExceptionally(e);
            throw e;
        }
    }

    private PulledImage fetch(String image, String where) throws BuildException {
        long t0 = System.nanoTime();
        ImageReference ref;
        try {
            ref = ImageReference.parse(image);
        } catch (RuntimeException e) {
            throw new BuildException(where + "invalid image reference " + image);
        }
        PulledImage pulled;
        try {
            pulled = source.pull(ref, platform);
        } catch (IOException e) {
            throw new BuildException(where + "pulling " + image + ": " + e.getMessage() + (TlsTrust.untrustedCertificate(e)
                    ? "; pass --registry-certificate " + ref.registry() + "=CA.pem, or --skip-tls-verify-pull" : ""), e);
        }
        long bytes = pulled.layers().stream().mapToLong(b -> b.descriptor().size()).sum();
        events.accept(BuildEvent.Message.info("pulled " + image + " (" + pulled.manifestDigest() + "): "
                + pulled.layers().size() + " layers, " + bytes + " bytes (" + Elapsed.since(t0) + ")"));
        return pulled;
    }
}
