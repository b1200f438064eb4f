package dev.kiln.oci.layer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LayerPathsTest {
    @Test
    void cleanIsDockersLexicalCleanRelativeToTheRoot() {
        assertEquals("etc/passwd", LayerPaths.clean("/etc/passwd"));
        assertEquals("etc/passwd", LayerPaths.clean("./etc//./passwd/"));
        assertEquals("b", LayerPaths.clean("a/../b"));
        assertEquals("", LayerPaths.clean("./"));
        assertThrows(IllegalArgumentException.class, () -> LayerPaths.clean("../x"));
        assertThrows(IllegalArgumentException.class, () -> LayerPaths.clean("a/../../x"));
    }

    @Test
    void tarOrderIsDepthFirstWithTheOpaqueMarkerFirst() {
        List<String> paths = new ArrayList<>(List.of("a-b", "a/b/c", "a/.wh.x", "b", "a", "a/.wh..wh..opq", "a/b", "A", "a/-"));
        paths.sort(LayerPaths::compare);
        assertEquals(List.of("A", "a", "a/.wh..wh..opq", "a/-", "a/.wh.x", "a/b", "a/b/c", "a-b", "b"), paths);
        for (String x : paths) {
            for (String y : paths) {
                assertEquals(Integer.signum(LayerPaths.compare(x, y)), -Integer.signum(LayerPaths.compare(y, x)), x + " vs " + y);
            }
        }
    }
}
