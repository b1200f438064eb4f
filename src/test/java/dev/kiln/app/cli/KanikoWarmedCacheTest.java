package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.Tools;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A {@code --cache-dir} laid out as kaniko's warmer leaves it (an image tarball named by the
 * manifest digest, the manifest beside it as {@code .json}), made with real tar and gzip. The base
 * image is named by digest on a registry that does not exist, so the build can only succeed by
 * reading the warmed directory.
 */
class KanikoWarmedCacheTest {
    @TempDir
    Path tmp;
    Path warmed;
    Path context;
    String manifestHex;
    Path layerEntry;

    @BeforeEach
    void kanikoWarmedDir() throws IOException {
        Path rootfs = Files.createDirectories(tmp.resolve("rootfs/etc"));
        Files.writeString(rootfs.resolve("warmed-base"), "from kaniko's warmer\n");
        Path image = Files.createDirectories(tmp.resolve("image"));
        Tools.sh("cd '" + tmp.resolve("rootfs") + "' && tar --numeric-owner -cf '" + tmp.resolve("layer.tar") + "' etc");
        String diffId = Tools.sha256sum(tmp.resolve("layer.tar"));
        Tools.sh("gzip -n -c '" + tmp.resolve("layer.tar") + "' > '" + tmp.resolve("layer.tar.gz") + "'");
        String layerHex = Tools.sha256sum(tmp.resolve("layer.tar.gz"));
        long layerSize = Files.size(tmp.resolve("layer.tar.gz"));
        String config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\"]},"
                + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" + diffId + "\"]}}";
        Path configFile = Files.writeString(tmp.resolve("config.json"), config);
        String configHex = Tools.sha256sum(configFile);
        String manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":" + config.length()
                + ",\"digest\":\"sha256:" + configHex + "\"},\"layers\":[{\"mediaType\":"
                + "\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":" + layerSize + ",\"digest\":\"sha256:" + layerHex + "\"}]}";
        Path manifestFile = Files.writeString(tmp.resolve("manifest"), manifest);
        manifestHex = Tools.sha256sum(manifestFile);
        // the tarball as go-containerregistry's tarball.Write lays it out
        Files.copy(configFile, image.resolve("sha256:" + configHex));
        layerEntry = Files.copy(tmp.resolve("layer.tar.gz"), image.resolve(layerHex + ".tar.gz"));
        Files.writeString(image.resolve("manifest.json"), "[{\"Config\":\"sha256:" + configHex
                + "\",\"RepoTags\":[\"127.0.0.1:1/base:1\"],\"Layers\":[\"" + layerHex + ".tar.gz\"]}]");
        warmed = Files.createDirectories(tmp.resolve("cache"));
        Tools.sh("cd '" + image + "' && tar -cf '" + warmed.resolve("sha256:" + manifestHex) + "' manifest.json 'sha256:"
                + configHex + "' " + layerHex + ".tar.gz");
        Files.copy(manifestFile, warmed.resolve("sha256:" + manifestHex + ".json"));
        context = Files.createDirectories(tmp.resolve("context"));
        Files.writeString(context.resolve("app.txt"), "app\n");
        Files.writeString(context.resolve("Dockerfile"), "FROM 127.0.0.1:1/base@sha256:" + manifestHex + "\nCOPY app.txt /app.txt\n");
    }

    private String[] build(Path cacheDir, Path out) {
        return new String[] {"--context=" + context, "--no-push", "--tar-path=" + out, "--cache-dir=" + cacheDir,
                "--image-download-retry=0"};
    }

    private int run(String[] args, ByteArrayOutputStream err) {
        PrintStream p = new PrintStream(err, true, StandardCharsets.UTF_8);
        return new CommandLine(new BuildCommand(p, p, new ByteArrayInputStream(new byte[0]), Map.of())).execute(args);
    }

    @Test
    void aBaseImageKanikosWarmerCachedIsReadFromTheCacheDirWithoutARegistry() throws IOException {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Path out = tmp.resolve("out.tar");
        assertEquals(0, run(build(warmed, out), err), err.toString(StandardCharsets.UTF_8));
        String listing = Tools.sh("tar -tf '" + out + "'");
        assertTrue(listing.contains("manifest.json"), listing);
        Path unpacked = Files.createDirectories(tmp.resolve("unpacked"));
        Tools.sh("cd '" + unpacked + "' && tar -xf '" + out + "' && for l in $(find . -name '*.tar*' -o -name '*.gz' | grep -v '^./manifest'); do "
                + "mkdir -p root && (tar -xzf \"$l\" -C root 2>/dev/null || tar -xf \"$l\" -C root); done");
        assertEquals("from kaniko's warmer\n", Files.readString(unpacked.resolve("root/etc/warmed-base")));
        assertEquals("app\n", Files.readString(unpacked.resolve("root/app.txt")));
    }

    @Test
    void withoutTheWarmedDirTheSameBuildNeedsTheRegistry() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(1, run(build(tmp.resolve("empty-cache"), tmp.resolve("out.tar")), err));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("127.0.0.1:1"), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aWarmedLayerThatDoesNotMatchItsDigestIsRefused() throws IOException {
        // the same tarball with the layer entry's bytes changed: the name promises a digest the content breaks
        Files.write(layerEntry, Tools.sh("printf corrupt | gzip -n").getBytes(StandardCharsets.ISO_8859_1));
        Path image = layerEntry.getParent();
        Tools.sh("cd '" + image + "' && tar -cf '" + warmed.resolve("sha256:" + manifestHex) + "' *");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(1, run(build(warmed, tmp.resolve("out.tar")), err));
        String text = err.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("expected sha256:") || text.contains("127.0.0.1:1"), text);
        assertFalse(Files.exists(tmp.resolve("out.tar")), "no image from a corrupt cache");
    }
}
