package dev.kiln.builder.rootfs;

import dev.kiln.builder.layers.BuildLayers;
import dev.kiln.oci.Digest;
import dev.kiln.registry.client.PulledImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Makes a stage's root filesystem real: its parent stage's files (when it starts from one), then
 * layers applied in order. The one place layers become files in a rootfs, so a store of unpacked
 * layers can take over here. In place, layers applied to the taken-over root leave its ignored
 * paths alone. A stage that starts from an image's layers alone takes them from the kept unpacked
 * layers ({@link BuildLayers}) where the build has a store of them.
 */
public final class RootfsMaterializer {
    /** A layer's compressed file on this machine, fetched from the cache when the build has not got it yet. */
    public interface LayerFiles {
        Path fileOf(PulledImage.Blob layer) throws IOException;
    }

    private final LayerFiles files;
    private final InPlaceRoot inPlace;
    private final BuildLayers kept;

    /**
     * @param inPlace the root an in-place build takes over, or null
     * @param kept    layers kept unpacked across builds, or null
     */
    public RootfsMaterializer(LayerFiles files, InPlaceRoot inPlace, BuildLayers kept) {
        this.files = files;
        this.inPlace = inPlace;
        this.kept = kept;
    }

    /**
     * Makes the empty {@code rootfs} hold an image's whole stack of {@code layers}, whose DiffIDs
     * end {@code diffIds}: from the kept layers where there are, else unpacked here.
     */
    public void stack(Path rootfs, List<PulledImage.Blob> layers, List<Digest> diffIds) throws IOException {
        if (kept == null || (inPlace != null && rootfs.equals(inPlace.root()))) {
            materialize(rootfs, null, layers);
            return;
        }
        kept.unpack(rootfs, layers, diffIds, files::fileOf);
    }

    /** A RUN's overlay upper directory as {@code rootfs}'s top layer, where it is a mount of kept layers ({@link BuildLayers#stackOnTop}). */
    public boolean stackOnTop(Path rootfs, Path upper) throws IOException {
        return kept != null && kept.stackOnTop(rootfs, upper);
    }

    /**
     * Adds {@code layers} to what {@code rootfs} holds, after copying {@code parent}'s files into it
     * (null: nothing to copy).
     */
    public void materialize(Path rootfs, Path parent, List<PulledImage.Blob> layers) throws IOException {
        if (parent != null) {
            copyTree(parent, rootfs);
        }
        LayerExtractor extractor = inPlace != null && rootfs.equals(inPlace.root()) ? inPlace.extractor()
                : LayerExtractor.forRootfs(rootfs);
        for (PulledImage.Blob layer : layers) {
            extractor.apply(files.fileOf(layer));
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Process p = new ProcessBuilder("cp", "-a", from + "/.", to.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (p.waitFor() != 0) {
                throw new IOException("copying stage rootfs failed: " + out.trim());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }
}
