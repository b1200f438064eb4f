package dev.kiln.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.oci.layer.EntryType;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The golden tests' comparer: layers applied as a container runtime would, differences reported. */
class FlatImageTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void whiteoutsAndOpaqueDirectoriesHideOnlyLowerLayersAndHardlinksFormGroups() throws Exception {
        FlatImage image = new FlatImage(JSON.createObjectNode());
        image.apply(layer("one", t -> {
            dir(t, "a/");
            file(t, "a/x", "x");
            file(t, "a/y", "y");
            file(t, "b", "b");
            link(t, "c", "b", TarConstants.LF_LINK);
            dir(t, "d/");
            file(t, "d/1", "1");
            file(t, "d/2", "2");
        }));
        assertEquals(Set.of("c"), image.hardlinksOf("b"));
        image.apply(layer("two", t -> {
            dir(t, "d/");
            file(t, "d/.wh..wh..opq", "");
            file(t, "d/3", "3");
            file(t, "a/.wh.x", "");
            file(t, "b", "new b");
            link(t, "s", "a/y", TarConstants.LF_SYMLINK);
        }));
        assertEquals(Set.of("a", "a/y", "b", "c", "d", "d/3", "s"), image.nodes().keySet());
        assertNull(image.node("a/x"));
        assertEquals(Set.of(), image.hardlinksOf("c"), "rewriting b broke the link");
        assertNotEquals(image.node("b").digest(), image.node("c").digest());
        assertEquals(EntryType.SYMLINK, image.node("s").type());
        assertEquals("a/y", image.node("s").linkTarget());
    }

    @Test
    void differencesNameEachPathAndWhatDiffers() throws Exception {
        FlatImage mine = new FlatImage(JSON.readTree("{\"config\":{\"Env\":[\"A=1\",\"PATH=/bin\"],\"Labels\":{\"x\":\"1\",\"io.buildah.version\":\"1\"}}}"));
        FlatImage theirs = new FlatImage(JSON.readTree("{\"config\":{\"Env\":[\"PATH=/bin\",\"A=1\"],\"Cmd\":[],\"Labels\":{\"x\":\"2\"}}}"));
        mine.apply(layer("mine", t -> {
            file(t, "same", "s");
            file(t, "mode", "m");
            file(t, "only-mine", "o");
            file(t, "log", "time 1");
        }));
        theirs.apply(layer("theirs", t -> {
            file(t, "same", "s");
            TarArchiveEntry e = new TarArchiveEntry("mode");
            e.setMode(0100600);
            e.setSize(1);
            t.putArchiveEntry(e);
            t.write('m');
            t.closeArchiveEntry();
            file(t, "log", "time 2");
        }));
        List<String> fs = mine.filesystemDifferences(theirs, "kiln", "buildah", FlatImage.Ignore.NOTHING.orContent("log"::equals));
        assertEquals(2, fs.size(), fs.toString());
        assertTrue(fs.get(0).startsWith("/mode: kiln file 1B") && fs.get(0).contains("0644") && fs.get(0).contains("0600"), fs.get(0));
        assertTrue(fs.get(1).startsWith("/only-mine: only in kiln"), fs.get(1));
        assertEquals(List.of("config.Labels: kiln {\"x\":\"1\"}, buildah {\"x\":\"2\"}"),
                mine.configDifferences(theirs, "kiln", "buildah", Set.of("io.buildah.version")));
    }

    private interface Entries {
        void write(TarArchiveOutputStream tar) throws IOException;
    }

    private Path layer(String name, Entries entries) throws IOException {
        Path file = dir.resolve(name + ".tar");
        try (OutputStream out = Files.newOutputStream(file); TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
            entries.write(tar);
        }
        return file;
    }

    private static void dir(TarArchiveOutputStream tar, String name) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setMode(040755);
        tar.putArchiveEntry(e);
        tar.closeArchiveEntry();
    }

    private static void file(TarArchiveOutputStream tar, String name, String content) throws IOException {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setMode(0100644);
        e.setSize(bytes.length);
        tar.putArchiveEntry(e);
        tar.write(bytes);
        tar.closeArchiveEntry();
    }

    private static void link(TarArchiveOutputStream tar, String name, String target, byte type) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name, type);
        e.setLinkName(target);
        e.setMode(type == TarConstants.LF_SYMLINK ? 0120777 : 0100644);
        tar.putArchiveEntry(e);
        tar.closeArchiveEntry();
    }
}
