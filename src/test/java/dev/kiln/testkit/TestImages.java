package dev.kiln.testkit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Real OCI image layouts made without a daemon: a busybox root filesystem (Debian's busybox-static,
 * with {@code sh} and {@code ls} links and an {@code /etc/os-release}) as one PAX tar layer, sorted
 * and reproducible, gzip-compressed; an OCI config with its diff_id, an OCI manifest, and
 * {@code index.json} naming it {@code latest}. Also a two-platform variant behind an OCI index.
 */
public final class TestImages {
    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    public static final String OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
    public static final String REF_NAME = "org.opencontainers.image.ref.name";
    public static final Path BUSYBOX = Path.of("/bin/busybox");

    private static final ObjectMapper JSON = new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT);
    private static final long MTIME = 1_700_000_000L; // fixed: layers are reproducible

    private TestImages() {
    }

    /** A blob as the layout stores it. */
    public record Blob(String mediaType, String digest, byte[] bytes) {
        public long size() {
            return bytes.length;
        }

        public String hex() {
            return digest.substring("sha256:".length());
        }

        Map<String, Object> descriptor() {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("mediaType", mediaType);
            d.put("digest", digest);
            d.put("size", bytes.length);
            return d;
        }
    }

    /** One single-platform image: its manifest, config and layers. */
    public record Image(String architecture, Blob manifest, Blob config, List<Blob> layers, List<String> diffIds) {
        public String digest() {
            return manifest.digest();
        }

        public List<String> layerDigests() {
            return layers.stream().map(Blob::digest).toList();
        }
    }

    /**
     * An OCI layout on disk whose {@code index.json} names {@code ref}: either one image (then
     * {@link #index()} is null) or an index of several ({@link #images()} in index order).
     */
    public record Layout(Path dir, String ref, Blob index, List<Image> images) {
        /** {@code oci:<dir>:<ref>} for skopeo. */
        public String reference() {
            return "oci:" + dir + ":" + ref;
        }

        /** The digest {@code index.json} points to for {@link #ref}: the manifest, or the index. */
        public String topDigest() {
            return index != null ? index.digest() : images.get(0).digest();
        }

        public Image image() {
            if (images.size() != 1) {
                throw new IllegalStateException("a multi-platform layout has " + images.size() + " images");
            }
            return images.get(0);
        }
    }

    /** A single-platform linux/amd64 busybox image in a new OCI layout at {@code dir}. */
    public static Layout busybox(Path dir) {
        return busybox(dir, "latest", "amd64");
    }

    public static Layout busybox(Path dir, String ref, String architecture) {
        requireBusybox();
        try {
            Files.createDirectories(dir);
            Image image = writeImage(dir, architecture, "");
            writeLayoutFiles(dir, image.manifest(), ref);
            return new Layout(dir, ref, null, List.of(image));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A linux/amd64 + linux/arm64 busybox image (different layer content per platform) behind an OCI index. */
    public static Layout multiPlatform(Path dir) {
        requireBusybox();
        try {
            Files.createDirectories(dir);
            List<Image> images = new ArrayList<>();
            List<Map<String, Object>> manifests = new ArrayList<>();
            for (String arch : List.of("amd64", "arm64")) {
                Image image = writeImage(dir, arch, "KILN_TEST_PLATFORM=linux/" + arch + "\n");
                images.add(image);
                Map<String, Object> descriptor = image.manifest().descriptor();
                Map<String, Object> platform = new LinkedHashMap<>();
                platform.put("architecture", arch);
                platform.put("os", "linux");
                if (arch.equals("arm64")) {
                    platform.put("variant", "v8");
                }
                descriptor.put("platform", platform);
                manifests.add(descriptor);
            }
            Map<String, Object> index = new LinkedHashMap<>();
            index.put("schemaVersion", 2);
            index.put("mediaType", OCI_INDEX);
            index.put("manifests", manifests);
            Blob indexBlob = writeBlob(dir, OCI_INDEX, JSON.writeValueAsBytes(index));
            writeLayoutFiles(dir, indexBlob, "latest");
            return new Layout(dir, "latest", indexBlob, images);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static void requireBusybox() {
        if (!Files.isRegularFile(BUSYBOX) || !Files.isExecutable(BUSYBOX)) {
            org.junit.jupiter.api.Assertions.fail(BUSYBOX + " is missing: install the Debian package 'busybox-static'"
                    + " (scripts/install-test-deps does it; ./run-tests runs that script as root)");
        }
    }

    private static Image writeImage(Path dir, String architecture, String extraOsRelease) throws IOException {
        String osRelease = "NAME=\"Kiln test busybox\"\nID=kiln-test\nVERSION_ID=1\n" + extraOsRelease;
        byte[] tar = rootfsTar(Files.readAllBytes(BUSYBOX), osRelease.getBytes(StandardCharsets.UTF_8));
        String diffId = sha256(tar);
        Blob layer = writeBlob(dir, OCI_LAYER_GZIP, gzip(tar));

        Map<String, Object> config = new LinkedHashMap<>();
        config.put("created", "2023-11-14T22:13:20Z");
        config.put("architecture", architecture);
        config.put("os", "linux");
        if (architecture.equals("arm64")) {
            config.put("variant", "v8");
        }
        Map<String, Object> runtime = new LinkedHashMap<>();
        runtime.put("Env", List.of("PATH=/bin"));
        runtime.put("Cmd", List.of("/bin/sh"));
        runtime.put("Labels", Map.of("dev.kiln.test", "busybox-" + architecture));
        config.put("config", runtime);
        Map<String, Object> rootfs = new LinkedHashMap<>();
        rootfs.put("type", "layers");
        rootfs.put("diff_ids", List.of(diffId));
        config.put("rootfs", rootfs);
        config.put("history", List.of(Map.of("created", "2023-11-14T22:13:20Z", "created_by", "kiln TestImages")));
        Blob configBlob = writeBlob(dir, OCI_CONFIG, JSON.writeValueAsBytes(config));

        Map<String, Object> manifest = new LinkedHashMap<>();
        manifest.put("schemaVersion", 2);
        manifest.put("mediaType", OCI_MANIFEST);
        manifest.put("config", configBlob.descriptor());
        manifest.put("layers", List.of(layer.descriptor()));
        Blob manifestBlob = writeBlob(dir, OCI_MANIFEST, JSON.writeValueAsBytes(manifest));
        return new Image(architecture, manifestBlob, configBlob, List.of(layer), List.of(diffId));
    }

    private static void writeLayoutFiles(Path dir, Blob top, String ref) throws IOException {
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        Map<String, Object> descriptor = top.descriptor();
        descriptor.put("annotations", Map.of(REF_NAME, ref));
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("schemaVersion", 2);
        index.put("mediaType", OCI_INDEX);
        index.put("manifests", List.of(descriptor));
        Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(index));
    }

    private static Blob writeBlob(Path dir, String mediaType, byte[] bytes) throws IOException {
        String digest = sha256(bytes);
        Path file = dir.resolve("blobs").resolve("sha256").resolve(digest.substring("sha256:".length()));
        Files.createDirectories(file.getParent());
        Files.write(file, bytes);
        return new Blob(mediaType, digest, bytes);
    }

    /** The root filesystem as a PAX tar with entries in sorted order, owned by root, with a fixed mtime. */
    static byte[] rootfsTar(byte[] busybox, byte[] osRelease) throws IOException {
        TreeMap<String, TarArchiveEntry> entries = new TreeMap<>();
        Map<String, byte[]> contents = new LinkedHashMap<>();
        entries.put("bin/", directory("bin/"));
        entries.put("etc/", directory("etc/"));
        entries.put("bin/busybox", file("bin/busybox", busybox.length, 0755));
        contents.put("bin/busybox", busybox);
        for (String applet : List.of("sh", "ls")) {
            TarArchiveEntry link = new TarArchiveEntry("bin/" + applet, TarConstants.LF_SYMLINK);
            link.setLinkName("busybox");
            link.setMode(0120777);
            entries.put(link.getName(), owned(link));
        }
        TarArchiveEntry release = file("etc/os-release", osRelease.length, 0644);
        // One extended header record (readers ignore "comment"), so the layer really is a PAX archive, not plain ustar.
        release.addPaxHeader("comment", "kiln test image");
        entries.put(release.getName(), release);
        contents.put("etc/os-release", osRelease);

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes, StandardCharsets.UTF_8.name())) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            tar.setAddPaxHeadersForNonAsciiNames(true);
            for (TarArchiveEntry entry : entries.values()) {
                tar.putArchiveEntry(entry);
                byte[] content = contents.get(entry.getName());
                if (content != null) {
                    tar.write(content);
                }
                tar.closeArchiveEntry();
            }
            tar.finish();
        }
        return bytes.toByteArray();
    }

    private static TarArchiveEntry directory(String name) {
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setMode(040755);
        return owned(entry);
    }

    private static TarArchiveEntry file(String name, long size, int mode) {
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setSize(size);
        entry.setMode(0100000 | mode);
        return owned(entry);
    }

    private static TarArchiveEntry owned(TarArchiveEntry entry) {
        entry.setUserId(0);
        entry.setGroupId(0);
        entry.setUserName("root");
        entry.setGroupName("root");
        entry.setModTime(MTIME * 1000);
        return entry;
    }

    static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gzip = new GZIPOutputStream(out)) {
            gzip.write(data);
        }
        return out.toByteArray();
    }

    public static String sha256(byte[] bytes) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public static String sha256(Path file) {
        try (var in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[256 * 1024];
            for (int n; (n = in.read(buffer)) > 0; ) {
                md.update(buffer, 0, n);
            }
            return "sha256:" + HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
