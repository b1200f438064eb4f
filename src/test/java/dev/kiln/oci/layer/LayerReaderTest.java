package dev.kiln.oci.layer;

import static dev.kiln.testkit.Tools.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerReaderTest {
    @TempDir
    Path tmp;

    private Path gnuTree() throws IOException {
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.createDirectories(src.resolve("dir/sub"));
        Files.writeString(src.resolve("dir/sub/file.txt"), "content");
        Files.createSymbolicLink(src.resolve("dir/link"), Path.of("sub/file.txt"));
        Files.createLink(src.resolve("dir/hard"), src.resolve("dir/sub/file.txt"));
        Files.writeString(src.resolve("n".repeat(150)), "long");
        return src;
    }

    private Map<String, LayerEntry> read(Path layer, Compression.Algorithm expected) throws IOException {
        Map<String, LayerEntry> entries = new LinkedHashMap<>();
        try (LayerReader reader = LayerReader.open(layer)) {
            assertEquals(expected, reader.compression());
            for (LayerEntry e; (e = reader.next()) != null; ) {
                if (e.type() == EntryType.FILE && e.size() > 0 && !e.path().endsWith("hard")) {
                    assertEquals(e.size(), reader.content().readAllBytes().length, e.path());
                }
                entries.put(e.path(), e);
            }
            assertNull(reader.next());
        }
        return entries;
    }

    @Test
    void readsGnuTarInEachFormatAndCompression() throws IOException {
        Path src = gnuTree();
        String[][] cases = {
                {"pax", "", "NONE"}, {"gnu", "", "NONE"}, {"pax", "gzip", "GZIP"}, {"gnu", "gzip", "GZIP"}, {"pax", "zstd", "ZSTD"}};
        for (String[] c : cases) {
            Path layer = tmp.resolve("layer-" + c[0] + c[1]);
            String compress = c[1].isEmpty() ? "cat" : c[1] + " -c";
            sh("tar --format=" + c[0] + " --numeric-owner --owner=1000 --group=1000 -C " + src + " -cf - . | " + compress + " > " + layer);
            Map<String, LayerEntry> entries = read(layer, Compression.Algorithm.valueOf(c[2]));
            String label = c[0] + "/" + c[1];
            assertEquals(EntryType.DIRECTORY, entries.get("./dir/sub").type(), label);
            assertEquals(EntryType.FILE, entries.get("./dir/sub/file.txt").type(), label);
            assertEquals(7, entries.get("./dir/sub/file.txt").size(), label);
            assertEquals(1000, entries.get("./dir/sub/file.txt").uid(), label);
            assertEquals("sub/file.txt", entries.get("./dir/link").linkTarget(), label);
            assertEquals(EntryType.HARDLINK, entries.get("./dir/hard").type(), label);
            assertEquals(EntryType.FILE, entries.get("./" + "n".repeat(150)).type(), label);
        }
    }

    @Test
    void readsXattrsWrittenByGnuTar() throws IOException {
        Path src = Files.createDirectories(tmp.resolve("x"));
        Path f = Files.writeString(src.resolve("f"), "x");
        sh("python3 -c \"import os; os.setxattr('" + f + "','user.colour',b'blue')\"");
        Path layer = tmp.resolve("x.tar");
        sh("tar --format=pax --xattrs -C " + src + " -cf " + layer + " f");
        Map<String, LayerEntry> entries = read(layer, Compression.Algorithm.NONE);
        assertEquals("blue", new String(entries.get("f").xattrs().get("user.colour"), StandardCharsets.UTF_8));
    }
}
