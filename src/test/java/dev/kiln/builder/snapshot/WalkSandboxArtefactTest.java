package dev.kiln.builder.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.app.cli.BuildCommand;
import dev.kiln.testkit.BusyboxContext;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code --snapshot-mode walk} after a RUN: the mount points the sandbox made in {@code /etc}
 * ({@code resolv.conf}, {@code hosts}) and removed again leave {@code /etc} out of the layer, though
 * its ctime moved; what a RUN itself does to {@code /etc} is still in it.
 */
class WalkSandboxArtefactTest {
    @TempDir
    Path dir;

    /** Each layer of the built image, bottom first: entry name to mode. */
    private List<Map<String, Integer>> build(String steps) throws IOException {
        Path ctx = BusyboxContext.write(dir.resolve("ctx"), steps);
        Path archive = dir.resolve("image.tar");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        int exit = new CommandLine(new BuildCommand(new PrintStream(log, true, StandardCharsets.UTF_8))).execute(
                "-c", ctx.toString(), "--no-push", "--snapshot-mode", "walk", "--tar-path", archive.toString(),
                "--cache-dir", dir.resolve("cache").toString());
        assertEquals(0, exit, log.toString(StandardCharsets.UTF_8));
        Map<String, byte[]> files = new LinkedHashMap<>();
        try (TarArchiveInputStream tar = new TarArchiveInputStream(Files.newInputStream(archive))) {
            for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                files.put(e.getName(), tar.readAllBytes());
            }
        }
        JsonNode manifest = new ObjectMapper().readTree(files.get("manifest.json")).get(0);
        List<Map<String, Integer>> layers = new ArrayList<>();
        for (JsonNode layer : manifest.get("Layers")) {
            byte[] bytes = files.get(layer.asText());
            InputStream in = new BufferedInputStream(new java.io.ByteArrayInputStream(bytes));
            if ((bytes[0] & 0xff) == 0x1f && (bytes[1] & 0xff) == 0x8b) {
                in = new GZIPInputStream(in);
            }
            Map<String, Integer> entries = new LinkedHashMap<>();
            try (TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
                for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                    entries.put(e.getName().replaceFirst("/$", ""), e.getMode() & 07777);
                }
            }
            layers.add(entries);
        }
        return layers;
    }

    @Test
    void theSandboxsOwnMountPointsInEtcAreNoChange() throws IOException {
        List<Map<String, Integer>> layers = build("""
                RUN mkdir -p /etc && echo root:x:0:0::/root:/bin/sh > /etc/passwd
                RUN echo hi > /hi.txt
                RUN echo again > /again.txt
                """);
        assertEquals(List.of("hi.txt"), List.copyOf(layers.get(layers.size() - 2).keySet()), layers.toString());
        assertEquals(List.of("again.txt"), List.copyOf(layers.get(layers.size() - 1).keySet()), layers.toString());
    }

    @Test
    void whatARunDoesToEtcItselfIsStillAChange() throws IOException {
        List<Map<String, Integer>> layers = build("""
                RUN mkdir -p /etc && echo root:x:0:0::/root:/bin/sh > /etc/passwd
                RUN echo new > /etc/new
                RUN chmod 700 /etc
                RUN mkdir /etc/gone && rmdir /etc/gone
                """);
        int n = layers.size();
        assertTrue(layers.get(n - 3).containsKey("etc/new"), "a file made in /etc: " + layers.get(n - 3));
        assertEquals(Map.of("etc", 0700), layers.get(n - 2), "a chmod of /etc");
        assertEquals(List.of("etc"), List.copyOf(layers.get(n - 1).keySet()),
                "an entry made and removed by the RUN itself moved /etc's mtime: " + layers.get(n - 1));
    }
}
