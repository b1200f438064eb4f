package dev.kiln.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RepositoryNameTest {
    @ParameterizedTest
    @ValueSource(strings = {"a", "local/busybox", "cache/a.b/c_d/e__f/g-h/i---j", "0/1/2"})
    void validNames(String name) {
        assertEquals(name, new RepositoryName(name).value());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "Local/busybox", "local//busybox", "local/../etc", "local/./x", "/local", "local/", "a_", "-a",
            "a/.hidden", "a b", "a:b"})
    void invalidNames(String name) {
        assertThrows(InvalidNameException.class, () -> new RepositoryName(name));
    }

    @Test
    void tooLongNamesAreRejected() {
        assertThrows(InvalidNameException.class, () -> new RepositoryName("a".repeat(256)));
    }

    @Test
    void firstComponentIsTheNamespace() {
        assertEquals("cache", new RepositoryName("cache/x/y").firstComponent());
        assertEquals("solo", new RepositoryName("solo").firstComponent());
    }

    @Test
    void tags() {
        assertEquals(true, Tag.isValid("v1.2_3-rc"));
        assertEquals(false, Tag.isValid(".hidden"));
        assertEquals(false, Tag.isValid("-x"));
        assertEquals(false, Tag.isValid("a".repeat(129)));
        assertEquals(false, Tag.isValid("a/b"));
    }
}
