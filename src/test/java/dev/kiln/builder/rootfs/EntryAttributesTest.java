package dev.kiln.builder.rootfs;

import static dev.kiln.testkit.Tools.isRoot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.oci.layer.LayerEntry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EntryAttributesTest {
    @TempDir
    Path tmp;
    final List<String> warnings = new ArrayList<>();

    private Path file() throws IOException {
        return Files.writeString(tmp.resolve("f"), "x");
    }

    private static List<String> userXattrs(Path p) throws IOException {
        return Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).list();
    }

    private static String userXattr(Path p, String name) throws IOException {
        UserDefinedFileAttributeView view = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        ByteBuffer buffer = ByteBuffer.allocate(view.size(name));
        view.read(name, buffer);
        return new String(buffer.array(), StandardCharsets.UTF_8);
    }

    @Test
    void modeAndTimeAreTheEntrysIncludingSetuid() throws IOException {
        Path f = file();
        LayerEntry entry = LayerEntry.emptyFile("f").withMode(04751).withMtime(Instant.parse("2021-02-03T04:05:06Z"));
        EntryAttributes attributes = new EntryAttributes(false, false);
        attributes.time(f, entry);
        attributes.mode(f, entry);
        assertEquals(04751, (Integer) Files.getAttribute(f, "unix:mode") & 07777);
        assertEquals(Instant.parse("2021-02-03T04:05:06Z"), Files.getLastModifiedTime(f).toInstant());
    }

    @Test
    void theTimeOfASymlinkIsItsOwnNotItsTargets() throws IOException {
        Path target = file();
        Instant before = Files.getLastModifiedTime(target).toInstant();
        Path link = Files.createSymbolicLink(tmp.resolve("l"), target);
        new EntryAttributes(false, false).time(link, LayerEntry.symlink("l", "f").withMtime(Instant.parse("2001-01-01T00:00:00Z")));
        assertEquals(Instant.parse("2001-01-01T00:00:00Z"), Files.getLastModifiedTime(link, LinkOption.NOFOLLOW_LINKS).toInstant());
        assertEquals(before, Files.getLastModifiedTime(target).toInstant());
    }

    @Test
    void ownersAreSetOnlyWhenPrivileged() throws IOException {
        Path f = file();
        int uid = (Integer) Files.getAttribute(f, "unix:uid");
        new EntryAttributes(false, false).owner(f, LayerEntry.emptyFile("f").withOwner(4321, 8765));
        assertEquals(uid, (Integer) Files.getAttribute(f, "unix:uid"));
        assumeTrue(isRoot(), "chown needs root");
        new EntryAttributes(true, false).owner(f, LayerEntry.emptyFile("f").withOwner(4321, 8765));
        assertEquals(4321, (Integer) Files.getAttribute(f, "unix:uid"));
        assertEquals(8765, (Integer) Files.getAttribute(f, "unix:gid"));
    }

    @Test
    void userXattrsAreWrittenAndOthersReportedAndCounted() throws IOException {
        Path f = file();
        LayerEntry entry = LayerEntry.emptyFile("f").withXattrs(Map.of(
                "user.colour", "blue".getBytes(StandardCharsets.UTF_8),
                "security.capability", new byte[] {1, 2},
                "trusted.k", "v".getBytes(StandardCharsets.UTF_8)));
        int skipped = new EntryAttributes(false, false).xattrs(f, entry, warnings::add);
        assertEquals("blue", userXattr(f, "colour"));
        assertEquals(2, skipped);
        assertEquals(2, warnings.size(), warnings.toString());
        assertTrue(warnings.stream().anyMatch(w -> w.contains("security.capability")), warnings.toString());
        assertTrue(warnings.stream().anyMatch(w -> w.contains("trusted.k")), warnings.toString());
    }

    @Test
    void aLayersOwnOverlayXattrIsRefusedOnlyForALayerDirectory() throws IOException {
        Path f = file();
        LayerEntry entry = LayerEntry.emptyFile("f").withXattrs(Map.of(
                "user.overlay.opaque", "y".getBytes(StandardCharsets.UTF_8)));
        assertEquals(1, new EntryAttributes(false, true).xattrs(f, entry, warnings::add));
        assertFalse(userXattrs(f).contains("overlay.opaque"));
        assertTrue(warnings.get(0).contains("steer the overlay"), warnings.toString());

        assertEquals(0, new EntryAttributes(false, false).xattrs(f, entry, warnings::add));
        assertEquals("y", userXattr(f, "overlay.opaque"));
    }
}
