package dev.kiln.registry.client.support;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.image.ImageConfig;
import dev.kiln.oci.layer.Compression;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.WrittenLayer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Builds small OCI image layouts for skopeo to push: a busybox layer plus a per-image marker layer. */
public final class OciLayouts {
    private static final ObjectMapper JSON = new ObjectMapper();

    private OciLayouts() {
    }

    public record Built(Descriptor manifest, byte[] manifestBytes, Descriptor config, List<Descriptor> layers) {
    }

    /** Writes config, layers and manifest of one image into {@code layout}'s blobs. */
    public static Built image(Path layout, String os, String arch, String variant, String marker) throws IOException {
        Files.createDirectories(layout.resolve("blobs/sha256"));
        LayerWriter writer = LayerWriter.reproducible(Compression.gzip(), Instant.EPOCH);
        Path tmp = Files.createTempFile(layout, "layer", ".tgz");
        WrittenLayer base = writer.write(List.of(LayerEntry.file("bin/busybox", Path.of("/bin/busybox")).withMode(0755),
                LayerEntry.symlink("bin/sh", "busybox")), tmp);
        Files.move(tmp, blob(layout, base.digest()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path markerFile = Files.createTempFile(layout, "marker", ".txt");
        Files.writeString(markerFile, marker + "\n");
        WrittenLayer second = writer.write(List.of(LayerEntry.file("etc/marker", markerFile)), tmp);
        Files.move(tmp, blob(layout, second.digest()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.delete(markerFile);
        Instant t = Instant.parse("2024-01-01T00:00:00Z");
        ImageConfig config = ImageConfig.empty().withPlatform(os, arch, variant).withCreated(t)
                .withConfig(ImageConfig.Container.EMPTY.withCmd(List.of("sh")).withEnv("PATH", "/bin").withLabel("marker", marker))
                .withLayer(base.diffId(), ImageConfig.History.of(t, "busybox"))
                .withLayer(second.diffId(), ImageConfig.History.of(t, "marker " + marker));
        Descriptor configDescriptor = write(layout, MediaTypes.OCI_CONFIG, config.toJson());
        ObjectNode manifest = JSON.createObjectNode();
        manifest.put("schemaVersion", 2);
        manifest.put("mediaType", MediaTypes.OCI_MANIFEST);
        manifest.set("config", JSON.valueToTree(configDescriptor));
        ArrayNode layers = manifest.putArray("layers");
        layers.add(JSON.valueToTree(base.descriptor()));
        layers.add(JSON.valueToTree(second.descriptor()));
        byte[] bytes = JSON.writeValueAsBytes(manifest);
        Descriptor manifestDescriptor = write(layout, MediaTypes.OCI_MANIFEST, bytes);
        return new Built(manifestDescriptor, bytes, configDescriptor, List.of(base.descriptor(), second.descriptor()));
    }

    /** Writes an OCI index of {@code images} with their platforms; returns its descriptor. */
    public static Descriptor index(Path layout, List<Built> images, List<Descriptor.Platform> platforms) throws IOException {
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2);
        index.put("mediaType", MediaTypes.OCI_INDEX);
        ArrayNode manifests = index.putArray("manifests");
        for (int i = 0; i < images.size(); i++) {
            Descriptor d = images.get(i).manifest();
            manifests.add(JSON.valueToTree(new Descriptor(d.mediaType(), d.digest(), d.size(), null, null, null, platforms.get(i))));
        }
        return write(layout, MediaTypes.OCI_INDEX, JSON.writeValueAsBytes(index));
    }

    /** Makes {@code top} the layout's only entry, named {@code ref}, so skopeo can copy {@code oci:layout:ref}. */
    public static void tag(Path layout, String ref, Descriptor top) throws IOException {
        Files.writeString(layout.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2);
        ObjectNode entry = JSON.valueToTree(new Descriptor(top.mediaType(), top.digest(), top.size(), null,
                java.util.Map.of("org.opencontainers.image.ref.name", ref), null, null));
        index.putArray("manifests").add(entry);
        Files.write(layout.resolve("index.json"), JSON.writeValueAsBytes(index));
    }

    private static Descriptor write(Path layout, String mediaType, byte[] bytes) throws IOException {
        Digest digest = Digest.sha256(bytes);
        Files.write(blob(layout, digest), bytes);
        return new Descriptor(mediaType, digest, bytes.length);
    }

    private static Path blob(Path layout, Digest digest) throws IOException {
        Path dir = layout.resolve("blobs/sha256");
        Files.createDirectories(dir);
        return dir.resolve(digest.hex());
    }

    public static List<Descriptor> blobs(Built image) {
        List<Descriptor> all = new ArrayList<>();
        all.add(image.config());
        all.addAll(image.layers());
        return all;
    }
}
