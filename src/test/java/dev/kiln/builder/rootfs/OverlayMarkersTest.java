package dev.kiln.builder.rootfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OverlayMarkersTest {
    @TempDir
    Path dir;
    final LayerDirIndex index = new LayerDirIndex();
    final List<String> parentsMade = new ArrayList<>();
    OverlayMarkers markers;

    @BeforeEach
    void setUp() throws IOException {
        markers = new OverlayMarkers(RootfsPath.of(dir), index);
    }

    private void finish() throws IOException {
        markers.finish((name, parent) -> {
            parentsMade.add(name);
            Files.createDirectories(parent);
        });
    }

    private static String xattr(Path p, String name) throws IOException {
        UserDefinedFileAttributeView view = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        if (!view.list().contains(name)) {
            return null;
        }
        ByteBuffer buffer = ByteBuffer.allocate(view.size(name));
        view.read(name, buffer);
        return new String(buffer.array(), StandardCharsets.US_ASCII);
    }

    @Test
    void aWhiteoutBecomesAnEmptyMarkedFileInADirectoryMarkedAsHoldingWhiteouts() throws IOException {
        markers.whiteout(dir.resolve("etc/gone"));
        assertFalse(Files.exists(dir.resolve("etc/gone")), "nothing is marked before the layer is in");
        finish();
        Path marker = dir.resolve("etc/gone");
        assertEquals(0, Files.size(marker));
        assertEquals(LayerDirIndex.OPAQUE_ALL, xattr(marker, LayerDirIndex.WHITEOUT));
        assertEquals(LayerDirIndex.HAS_WHITEOUTS, xattr(dir.resolve("etc"), LayerDirIndex.OPAQUE));
        assertEquals(Set.of("etc/gone"), index.whiteouts());
        assertEquals(List.of("etc/gone"), parentsMade);
    }

    @Test
    void aWhiteoutOfWhatTheLayerAddsHidesNothingButADirectoryItReplacesBecomesOpaque() throws IOException {
        Files.writeString(dir.resolve("file"), "the layer's own");
        Files.createDirectories(dir.resolve("tree/sub"));
        markers.whiteout(dir.resolve("file"));
        markers.whiteout(dir.resolve("tree"));
        finish();
        assertEquals("the layer's own", Files.readString(dir.resolve("file")));
        assertEquals(null, xattr(dir.resolve("file"), LayerDirIndex.WHITEOUT));
        assertEquals(LayerDirIndex.OPAQUE_ALL, xattr(dir.resolve("tree"), LayerDirIndex.OPAQUE));
        assertEquals(Set.of("tree"), index.opaques());
        assertTrue(index.whiteouts().isEmpty(), index.whiteouts().toString());
    }

    @Test
    void noWhiteoutIsNeededBelowAnOpaqueDirectoryWhicheverCameFirst() throws IOException {
        markers.whiteout(dir.resolve("var/cache/old"));
        Files.createDirectories(dir.resolve("var"));
        markers.opaque(dir.resolve("var"));
        finish();
        assertFalse(Files.exists(dir.resolve("var/cache")));
        assertEquals(LayerDirIndex.OPAQUE_ALL, xattr(dir.resolve("var"), LayerDirIndex.OPAQUE));
        assertTrue(index.whiteouts().isEmpty(), index.whiteouts().toString());
    }

    @Test
    void aPathWhitedOutTwiceGetsOneMarkerAndAnOpaqueDirectoryStaysFullyOpaque() throws IOException {
        Files.createDirectories(dir.resolve("opt"));
        markers.opaque(dir.resolve("opt"));
        markers.whiteout(dir.resolve("other/x"));
        markers.whiteout(dir.resolve("other/x"));
        finish();
        assertEquals(Set.of("other/x"), index.whiteouts(), "one marker however often the layer names it");
        assertEquals(LayerDirIndex.OPAQUE_ALL, xattr(dir.resolve("opt"), LayerDirIndex.OPAQUE));
        assertEquals(LayerDirIndex.HAS_WHITEOUTS, xattr(dir.resolve("other"), LayerDirIndex.OPAQUE));
    }
}
