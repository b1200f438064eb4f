package dev.kiln.testkit;

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
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Builds an OCI image layout on disk from busybox-static, for skopeo to push. Two shapes of image:
 * {@link #image} is one layer holding busybox, a marker file that makes its digest unique and
 * optionally incompressible filler to reach a size; {@link #platformImage} is a busybox layer plus a
 * marker layer, written by Kiln's own reproducible {@link LayerWriter}, with a platform in its config.
 * Every named entry ({@link #ref}) stays in the layout's index.
 */
public final class OciLayout {
    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path BUSYBOX = Path.of("/bin/busybox");

    private final Path dir;
    private final ArrayNode refs = JSON.createArrayNode();

    public record Blob(String digest, long size, String mediaType) {
    }

    public record Image(Blob manifest, Blob config, List<Blob> layers) {
        public String digest() {
            return manifest.digest();
        }

        /** Config and layers: what a pull fetches with blob requests. */
        public List<Blob> blobs() {
            List<Blob> blobs = new ArrayList<>();
            blobs.add(config);
            blobs.addAll(layers);
            return blobs;
        }
    }

    /**
     * What goes into an image's single layer. Layers are gzipped (a registry push would compress them
     * anyway); the random filler does not compress, so large ones are stored uncompressed inside gzip.
     */
    public record Content(String marker, String arch, boolean busybox, int fillerBytes) {
        public static Content of(String marker) {
            return new Content(marker, "amd64", true, 0);
        }

        public Content arch(String value) {
            return new Content(marker, value, busybox, fillerBytes);
        }

        public Content withoutBusybox() {
            return new Content(marker, arch, false, fillerBytes);
        }

        public Content filler(int bytes) {
            return new Content(marker, arch, busybox, bytes);
        }
    }

    /** A {@link #platformImage}: its manifest (with its exact bytes), config and two layers. */
    public record Built(Descriptor manifest, byte[] manifestBytes, Descriptor config, List<Descriptor> layers) {
    }

    public OciLayout(Path dir) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir.resolve("blobs/sha256"));
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        writeIndex();
    }

    /** The skopeo reference of a named image in this layout. */
    public String ref(String name) {
        return "oci:" + dir + ":" + name;
    }

    public Image image(String refName, Content content) throws IOException {
        return image(refName, List.of(content));
    }

    /** An image with one layer per content, bottom first (the config's architecture is the first's). */
    public Image image(String refName, List<Content> contents) throws IOException {
        List<Blob> layers = new ArrayList<>();
        ArrayNode diffIds = JSON.createArrayNode();
        for (Content content : contents) {
            byte[] tar = layerTar(content);
            byte[] layerBytes = gzip(tar, content.fillerBytes() >= 4 << 20 ? Deflater.NO_COMPRESSION : Deflater.DEFAULT_COMPRESSION);
            layers.add(put(layerBytes, "application/vnd.oci.image.layer.v1.tar+gzip"));
            diffIds.add(TestImages.sha256(tar));
        }
        ObjectNode config = JSON.createObjectNode();
        config.put("created", "2024-01-01T00:00:00Z");
        config.put("architecture", contents.get(0).arch());
        config.put("os", "linux");
        config.putObject("config").putArray("Cmd").add("/bin/sh");
        ObjectNode rootfs = config.putObject("rootfs");
        rootfs.put("type", "layers");
        rootfs.set("diff_ids", diffIds);
        Blob configBlob = put(JSON.writeValueAsBytes(config), "application/vnd.oci.image.config.v1+json");
        ObjectNode manifest = JSON.createObjectNode();
        manifest.put("schemaVersion", 2);
        manifest.put("mediaType", OCI_MANIFEST);
        manifest.set("config", descriptor(configBlob));
        ArrayNode layerArray = manifest.putArray("layers");
        layers.forEach(layer -> layerArray.add(descriptor(layer)));
        Blob manifestBlob = put(JSON.writeValueAsBytes(manifest), OCI_MANIFEST);
        addRef(refName, manifestBlob);
        return new Image(manifestBlob, configBlob, List.copyOf(layers));
    }

    /** Writes config, layers and manifest of one image (no name: {@link #tag} or {@link #platformIndex} it). */
    public Built platformImage(String os, String arch, String variant, String marker) throws IOException {
        LayerWriter writer = LayerWriter.reproducible(Compression.gzip(), Instant.EPOCH);
        Path tmp = Files.createTempFile(dir, "layer", ".tgz");
        WrittenLayer base = writer.write(List.of(LayerEntry.file("bin/busybox", BUSYBOX).withMode(0755),
                LayerEntry.symlink("bin/sh", "busybox")), tmp);
        Files.move(tmp, blobPath(base.digest().toString()), StandardCopyOption.REPLACE_EXISTING);
        Path markerFile = Files.createTempFile(dir, "marker", ".txt");
        Files.writeString(markerFile, marker + "\n");
        WrittenLayer second = writer.write(List.of(LayerEntry.file("etc/marker", markerFile)), tmp);
        Files.move(tmp, blobPath(second.digest().toString()), StandardCopyOption.REPLACE_EXISTING);
        Files.delete(markerFile);
        Instant t = Instant.parse("2024-01-01T00:00:00Z");
        ImageConfig config = ImageConfig.empty().withPlatform(os, arch, variant).withCreated(t)
                .withConfig(ImageConfig.Container.EMPTY.withCmd(List.of("sh")).withEnv("PATH", "/bin").withLabel("marker", marker))
                .withLayer(base.diffId(), ImageConfig.History.of(t, "busybox"))
                .withLayer(second.diffId(), ImageConfig.History.of(t, "marker " + marker));
        Descriptor configDescriptor = descriptorOf(put(config.toJson(), MediaTypes.OCI_CONFIG));
        ObjectNode manifest = JSON.createObjectNode();
        manifest.put("schemaVersion", 2);
        manifest.put("mediaType", MediaTypes.OCI_MANIFEST);
        manifest.set("config", JSON.valueToTree(configDescriptor));
        ArrayNode layers = manifest.putArray("layers");
        layers.add(JSON.valueToTree(base.descriptor()));
        layers.add(JSON.valueToTree(second.descriptor()));
        byte[] bytes = JSON.writeValueAsBytes(manifest);
        Descriptor manifestDescriptor = descriptorOf(put(bytes, MediaTypes.OCI_MANIFEST));
        return new Built(manifestDescriptor, bytes, configDescriptor, List.of(base.descriptor(), second.descriptor()));
    }

    /** Writes an OCI index of {@code images} with their platforms (no name); returns its descriptor. */
    public Descriptor platformIndex(List<Built> images, List<Descriptor.Platform> platforms) throws IOException {
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2);
        index.put("mediaType", MediaTypes.OCI_INDEX);
        ArrayNode manifests = index.putArray("manifests");
        for (int i = 0; i < images.size(); i++) {
            Descriptor d = images.get(i).manifest();
            manifests.add(JSON.valueToTree(new Descriptor(d.mediaType(), d.digest(), d.size(), null, null, null, platforms.get(i))));
        }
        return descriptorOf(put(JSON.writeValueAsBytes(index), MediaTypes.OCI_INDEX));
    }

    /** Names {@code top} {@code refName} in the layout, so skopeo can copy {@code oci:layout:refName}. */
    public void tag(String refName, Descriptor top) throws IOException {
        addRef(refName, new Blob(top.digest().toString(), top.size(), top.mediaType()));
    }

    private static Descriptor descriptorOf(Blob blob) {
        return new Descriptor(blob.mediaType(), Digest.parse(blob.digest()), blob.size());
    }

    /** An OCI index of {@code images} with their platforms, named {@code refName}. */
    public Blob index(String refName, List<Image> images, List<String> arches) throws IOException {
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2);
        index.put("mediaType", OCI_INDEX);
        ArrayNode manifests = index.putArray("manifests");
        for (int i = 0; i < images.size(); i++) {
            ObjectNode entry = descriptor(images.get(i).manifest());
            ObjectNode platform = entry.putObject("platform");
            platform.put("architecture", arches.get(i));
            platform.put("os", "linux");
            manifests.add(entry);
        }
        Blob blob = put(JSON.writeValueAsBytes(index), OCI_INDEX);
        addRef(refName, blob);
        return blob;
    }

    private static ObjectNode descriptor(Blob blob) {
        ObjectNode node = JSON.createObjectNode();
        node.put("mediaType", blob.mediaType());
        node.put("digest", blob.digest());
        node.put("size", blob.size());
        return node;
    }

    private void addRef(String refName, Blob blob) throws IOException {
        ObjectNode ref = descriptor(blob);
        ref.putObject("annotations").put("org.opencontainers.image.ref.name", refName);
        refs.add(ref);
        writeIndex();
    }

    private void writeIndex() throws IOException {
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2);
        index.set("manifests", refs);
        Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(index));
    }

    private Blob put(byte[] bytes, String mediaType) throws IOException {
        String digest = TestImages.sha256(bytes);
        Path file = blobPath(digest);
        if (!Files.exists(file)) {
            Files.write(file, bytes);
        }
        return new Blob(digest, bytes.length, mediaType);
    }

    private Path blobPath(String digest) {
        return dir.resolve("blobs/sha256").resolve(digest.substring(digest.indexOf(':') + 1));
    }

    private static byte[] layerTar(Content content) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            directory(tar, "bin/");
            directory(tar, "etc/");
            if (content.busybox()) {
                file(tar, "bin/busybox", Files.readAllBytes(BUSYBOX), 0755);
                TarArchiveEntry sh = new TarArchiveEntry("bin/sh", TarArchiveEntry.LF_SYMLINK);
                sh.setLinkName("busybox");
                sh.setModTime(0);
                tar.putArchiveEntry(sh);
                tar.closeArchiveEntry();
            }
            file(tar, "etc/kiln-test-image", (content.marker() + "\n").getBytes(StandardCharsets.UTF_8), 0644);
            if (content.fillerBytes() > 0) {
                byte[] filler = new byte[content.fillerBytes()];
                new Random(content.marker().hashCode()).nextBytes(filler);
                file(tar, "etc/filler.bin", filler, 0644);
            }
        }
        return out.toByteArray();
    }

    private static void directory(TarArchiveOutputStream tar, String name) throws IOException {
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setMode(040755);
        entry.setModTime(0);
        tar.putArchiveEntry(entry);
        tar.closeArchiveEntry();
    }

    private static void file(TarArchiveOutputStream tar, String name, byte[] bytes, int mode) throws IOException {
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setMode(0100000 | mode);
        entry.setSize(bytes.length);
        entry.setModTime(0);
        tar.putArchiveEntry(entry);
        tar.write(bytes);
        tar.closeArchiveEntry();
    }

    private static byte[] gzip(byte[] bytes, int level) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(bytes.length / 2);
        try (GZIPOutputStream gz = new GZIPOutputStream(out, 64 * 1024) {
            {
                def.setLevel(level);
            }
        }) {
            gz.write(bytes);
        }
        return out.toByteArray();
    }
}
