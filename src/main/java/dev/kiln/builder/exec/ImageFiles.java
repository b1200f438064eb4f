package dev.kiln.builder.exec;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.PulledImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/** Writes a built image as a docker-archive tarball ({@code --tar-path}) or an OCI image layout. */
final class ImageFiles {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ImageFiles() {
    }

    static void writeDockerArchive(Path tar, Executor.Result image, PulledImage.Blob config, List<String> tags)
            throws IOException {
        ObjectNode entry = JSON.createObjectNode();
        String configName = config.digest().hex() + ".json";
        entry.put("Config", configName);
        ArrayNode repoTags = entry.putArray("RepoTags");
        for (String t : tags) {
            ImageReference ref = ImageReference.parse(t);
            repoTags.add(ref.context() + ":" + (ref.tag() == null ? ImageReference.DEFAULT_TAG : ref.tag()));
        }
        ArrayNode layers = entry.putArray("Layers");
        for (PulledImage.Blob layer : image.layers()) {
            layers.add(layer.digest().hex() + ".tar");
        }
        ArrayNode manifest = JSON.createArrayNode().add(entry);
        if (tar.getParent() != null) {
            Files.createDirectories(tar.getParent());
        }
        Path tmp = tar.resolveSibling(tar.getFileName() + ".tmp");
        try (OutputStream out = Files.newOutputStream(tmp);
             TarArchiveOutputStream t = new TarArchiveOutputStream(out)) {
            t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            t.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            add(t, configName, config.file());
            for (PulledImage.Blob layer : image.layers()) {
                add(t, layer.digest().hex() + ".tar", layer.file());
            }
            addBytes(t, "manifest.json", JSON.writeValueAsBytes(manifest));
        }
        Files.move(tmp, tar, StandardCopyOption.REPLACE_EXISTING);
    }

    static void writeOciLayout(Path dir, Executor.Result image, PulledImage.Blob config) throws IOException {
        Path blobs = dir.resolve("blobs").resolve("sha256");
        Files.createDirectories(blobs);
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        Files.copy(config.file(), blobs.resolve(config.digest().hex()), StandardCopyOption.REPLACE_EXISTING);
        for (PulledImage.Blob layer : image.layers()) {
            Files.copy(layer.file(), blobs.resolve(layer.digest().hex()), StandardCopyOption.REPLACE_EXISTING);
        }
        Files.write(blobs.resolve(image.digest().hex()), image.manifest());
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2);
        index.put("mediaType", MediaTypes.OCI_INDEX);
        ObjectNode m = index.putArray("manifests").addObject();
        m.put("mediaType", MediaTypes.OCI_MANIFEST);
        m.put("digest", image.digest().toString());
        m.put("size", image.manifest().length);
        Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(index));
    }

    private static void add(TarArchiveOutputStream t, String name, Path file) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(Files.size(file));
        e.setMode(0644);
        t.putArchiveEntry(e);
        Files.copy(file, t);
        t.closeArchiveEntry();
    }

    private static void addBytes(TarArchiveOutputStream t, String name, byte[] bytes) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(bytes.length);
        e.setMode(0644);
        t.putArchiveEntry(e);
        t.write(bytes);
        t.closeArchiveEntry();
    }
}
