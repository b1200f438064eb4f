package dev.kiln.builder.output;

import dev.kiln.builder.cache.LayerCache;
import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.Elapsed;
import dev.kiln.builder.sandbox.Cancellation;
import dev.kiln.builder.stage.LayerLedger;
import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.ImageManifests;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.image.ImageConfig;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.ImagePusher;
import dev.kiln.registry.client.ImageSink;
import dev.kiln.registry.client.PulledImage;
import dev.kiln.registry.client.TlsTrust;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Turns the last stage into the image: config and OCI manifest, then the docker archive and OCI
 * layout, the push (each layer mounted from where it already lives when the registry allows), the
 * digest files, and the report of what was reused and moved.
 */
public final class ImageOutput {
    /** The messages registries refuse an existing immutable tag with (kaniko's list: Artifact Registry's, ECR's). */
    private static final List<String> IMMUTABLE_TAG_ERRORS = List.of("The repository has enabled tag immutability",
            "cannot be overwritten because the repository is immutable");

    private final Outputs outputs;
    private final ImageSink sink;
    private final LayerLedger ledger;
    private final LayerCache cache;
    private final Path buildDir;
    private final Cancellation cancellation;
    private final boolean ignoreImmutableTagErrors;
    private final Consumer<BuildEvent> events;

    /**
     * @param cache                    the build's layer cache, or null
     * @param ignoreImmutableTagErrors kaniko's {@code --push-ignore-immutable-tag-errors}: a refusal to move an
     *                                 immutable tag is not a failed push
     */
    public ImageOutput(Outputs outputs, ImageSink sink, LayerLedger ledger, LayerCache cache, Path buildDir,
                       Cancellation cancellation, boolean ignoreImmutableTagErrors, Consumer<BuildEvent> events) {
        this.outputs = outputs;
        this.sink = sink;
        this.ledger = ledger;
        this.cache = cache;
        this.buildDir = buildDir;
        this.cancellation = cancellation;
        this.ignoreImmutableTagErrors = ignoreImmutableTagErrors;
        this.events = events;
    }

    /** A dry run's result: the config it would have, the layers known so far, nothing written. */
    public BuildResult dryRun(ImageConfig config, List<PulledImage.Blob> layers) {
        return new BuildResult(null, new byte[0], config.toJson(), List.copyOf(layers), report(layers, List.of()));
    }

    /** @param baseSource the registry image the layers' base came from (they can be mounted from it), or null */
    public BuildResult write(ImageConfig config, List<PulledImage.Blob> layers, ImageReference baseSource)
            throws IOException, BuildException {
        byte[] configBytes = config.toJson();
        Digest configDigest = Digest.sha256(configBytes);
        Path configFile = buildDir.resolve("config-" + configDigest.hex());
        Files.write(configFile, configBytes);
        Descriptor configDescriptor = new Descriptor(MediaTypes.OCI_CONFIG, configDigest, configBytes.length);
        byte[] manifestBytes = ImageManifests.oci(configDescriptor, layers.stream().map(PulledImage.Blob::descriptor).toList());
        Digest digest = Digest.sha256(manifestBytes);
        if (outputs.tarPath() != null || outputs.ociLayoutPath() != null) {
            List<PulledImage.Blob> local = new ArrayList<>();
            for (PulledImage.Blob layer : layers) {
                local.add(new PulledImage.Blob(layer.descriptor(), ledger.fileOf(layer)));
            }
            layers = local;
        }
        BuildResult image = new BuildResult(digest, manifestBytes, configBytes, List.copyOf(layers), null);
        PulledImage.Blob configBlob = new PulledImage.Blob(configDescriptor, configFile);
        List<ImageReference> destinations = new ArrayList<>();
        for (String d : outputs.destinations()) {
            destinations.add(ImageReference.parse(d));
        }
        if (outputs.tarPath() != null) {
            ImageFiles.writeDockerArchive(outputs.tarPath(), image, configBlob, outputs.destinations());
            info("wrote docker archive " + outputs.tarPath());
        }
        if (outputs.ociLayoutPath() != null) {
            ImageFiles.writeOciLayout(outputs.ociLayoutPath(), image, configBlob);
            info("wrote OCI layout " + outputs.ociLayoutPath());
        }
        List<ImagePusher.Destination> pushedTo = List.of();
        if (!outputs.noPush() && !destinations.isEmpty()) {
            List<PulledImage.Blob> blobs = new ArrayList<>();
            blobs.add(configBlob);
            blobs.addAll(layers);
            pushedTo = push(new ImagePusher.Image(manifestBytes, MediaTypes.OCI_MANIFEST, blobs), digest, destinations,
                    holders(layers, baseSource));
        }
        if (outputs.digestFile() != null) {
            Files.writeString(outputs.digestFile(), digest.toString());
        }
        if (outputs.imageNameWithDigestFile() != null) {
            StringBuilder sb = new StringBuilder();
            for (ImageReference d : destinations) {
                sb.append(d.context()).append('@').append(digest).append('\n');
            }
            Files.writeString(outputs.imageNameWithDigestFile(), sb.toString());
        }
        List<PulledImage.Blob> all = new ArrayList<>();
        all.add(configBlob);
        all.addAll(layers);
        return new BuildResult(digest, manifestBytes, configBytes, List.copyOf(layers), report(all, pushedTo));
    }

    /** Where each layer already lives, so a destination on the same registry mounts it instead of receiving it. */
    private Map<Digest, ImageReference> holders(List<PulledImage.Blob> layers, ImageReference baseSource) {
        Map<Digest, ImageReference> holders = new HashMap<>();
        if (baseSource != null) {
            layers.forEach(layer -> holders.put(layer.digest(), baseSource));
        }
        ledger.fromCache().forEach((layerDigest, cached) -> {
            if (cached.holder() != null) {
                holders.put(layerDigest, cached.holder());
            }
        });
        if (cache != null && cache.holder() != null) {
            // the layers just built are on their way to the cache: once there, destinations on that registry mount
            // them; the base's repository never held them, and a mount from it would end in a second upload
            cache.flush();
            ledger.stored().forEach(layerDigest -> holders.put(layerDigest, cache.holder()));
        }
        return holders;
    }

    private List<ImagePusher.Destination> push(ImagePusher.Image image, Digest digest, List<ImageReference> destinations,
                                               Map<Digest, ImageReference> holders) throws BuildException {
        long t0 = System.nanoTime();
        if (cancellation.isCancelled()) {
            throw new BuildException("cancelled");
        }
        ImagePusher.Result pushed;
        try {
            pushed = sink.push(image, destinations, holders, ledger::fileOf);
        } catch (IOException e) {
            if (ignoreImmutableTagErrors && immutableTagError(e)) {
                events.accept(BuildEvent.Message.warn("a destination's tag is immutable and already points elsewhere;"
                        + " the push counts as done (--push-ignore-immutable-tag-errors): " + e.getMessage()));
                pushed = new ImagePusher.Result(digest, List.of());
            } else {
                throw new BuildException("push failed: " + e.getMessage() + (TlsTrust.untrustedCertificate(e)
                        ? "; pass --registry-certificate HOST=CA.pem, or --skip-tls-verify" : ""), e);
            }
        }
        for (ImagePusher.Destination d : pushed.destinations()) {
            info("pushed " + d.reference() + ": uploaded " + d.bytesUploaded() + " bytes in " + d.blobsUploaded()
                    + " blobs; " + (d.blobsMounted() + d.blobsExisting()) + " blobs (" + d.bytesSkipped()
                    + " bytes) not uploaded: " + d.blobsExisting() + " already there, " + d.blobsMounted() + " mounted");
        }
        info("push took " + Elapsed.since(t0));
        return pushed.destinations();
    }

    private static boolean immutableTagError(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = t.getMessage();
            if (message != null && IMMUTABLE_TAG_ERRORS.stream().anyMatch(message::contains)) {
                return true;
            }
        }
        return false;
    }

    /** {@code blobs}: what the image is made of (with or without its config); see {@link BuildResult.Report}. */
    private BuildResult.Report report(List<PulledImage.Blob> blobs, List<ImagePusher.Destination> destinations) {
        Map<Digest, Long> sizes = new LinkedHashMap<>();
        Set<Digest> layerDigests = new HashSet<>();
        for (PulledImage.Blob blob : blobs) {
            sizes.put(blob.digest(), blob.descriptor().size());
            if (!MediaTypes.OCI_CONFIG.equals(blob.descriptor().mediaType())) {
                layerDigests.add(blob.digest());
            }
        }
        Set<Digest> uploaded = new HashSet<>();
        destinations.forEach(d -> uploaded.addAll(d.uploaded()));
        Set<Digest> fresh = destinations.isEmpty() ? ledger.built() : uploaded;
        long bytesUploaded = 0;
        long layerBytesUploaded = 0;
        long bytesNotUploaded = 0;
        for (Map.Entry<Digest, Long> blob : sizes.entrySet()) {
            if (uploaded.contains(blob.getKey())) {
                bytesUploaded += blob.getValue();
                layerBytesUploaded += layerDigests.contains(blob.getKey()) ? blob.getValue() : 0;
            } else if (!destinations.isEmpty()) {
                bytesNotUploaded += blob.getValue();
            }
        }
        Map<Digest, ?> fromCache = ledger.fromCache();
        int cached = (int) layerDigests.stream().filter(fromCache::containsKey).count();
        int reused = (int) layerDigests.stream().filter(d -> !fresh.contains(d)).count();
        return new BuildResult.Report(layerDigests.size(), cached, reused, bytesUploaded, layerBytesUploaded,
                bytesNotUploaded, destinations);
    }

    private void info(String message) {
        events.accept(BuildEvent.Message.info(message));
    }
}
