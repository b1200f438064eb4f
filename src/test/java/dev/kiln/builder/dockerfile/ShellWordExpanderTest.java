package dev.kiln.builder.dockerfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ShellWordExpanderTest {

    private static final Map<String, String> ENV = Map.of(
            "FILE", "archive.tar.gz", "PATHS", "/usr/local/bin:/usr/bin:/bin", "PORTS", "80  443", "EMPTY", "");

    private final ShellWordExpander backslash = new ShellWordExpander('\\');
    private final ShellWordExpander backtick = new ShellWordExpander('`');

    @Test
    void backtickEscapeLeavesBackslashesAlone() {
        assertEquals("C:\\Windows\\$FILE", backtick.expand("C:\\Windows\\`$FILE", ENV));
        assertEquals("C:\\Windows\\archive.tar.gz", backtick.expand("C:\\Windows\\$FILE", ENV));
        assertEquals("say \"hi\"", backtick.expand("\"say `\"hi`\"\"", ENV));
    }

    @Test
    void prefixAndSuffixRemoval() {
        assertEquals("tar.gz", backslash.expand("${FILE#*.}", ENV));
        assertEquals("gz", backslash.expand("${FILE##*.}", ENV));
        assertEquals("archive.tar", backslash.expand("${FILE%.*}", ENV));
        assertEquals("archive", backslash.expand("${FILE%%.*}", ENV));
        assertEquals("archive.tar.gz", backslash.expand("${FILE%.zip}", ENV));
        assertEquals("", backslash.expand("${UNSET%.*}", ENV));
    }

    @Test
    void patternSubstitution() {
        assertEquals("/usr/local/bin /usr/bin:/bin", backslash.expand("${PATHS/:/ }", ENV));
        assertEquals("/usr/local/bin /usr/bin /bin", backslash.expand("${PATHS//:/ }", ENV));
        assertEquals("usr/local/bin:/usr/bin:/bin", backslash.expand("${PATHS/\\//}", ENV));
    }

    @Test
    void colonWithPatternOperatorsIsUnsupported() {
        assertThrows(ShellExpansionException.class, () -> backslash.expand("${FILE:#x}", ENV));
    }

    @Test
    void requiredVariableMessages() {
        assertEquals("failed to process \"${UNSET?set it}\": UNSET: set it",
                assertThrows(ShellExpansionException.class, () -> backslash.expand("${UNSET?set it}", ENV)).getMessage());
        assertEquals("failed to process \"${EMPTY:?}\": EMPTY: is not allowed to be empty",
                assertThrows(ShellExpansionException.class, () -> backslash.expand("${EMPTY:?}", ENV)).getMessage());
    }

    @Test
    void singleWordExpansionKeepsSpacesWhileWordsSplitThem() {
        assertEquals("80  443", backslash.expand("$PORTS", ENV));
        assertEquals(List.of("80", "443", "8080"), backslash.expandWords("$PORTS 8080", ENV));
        assertEquals(List.of("80  443"), backslash.expandWords("\"$PORTS\"", ENV));
    }

    @Test
    void heredocExpansionKeepsQuotes() {
        assertEquals("echo 'archive.tar.gz' \"80  443\"\n",
                backslash.expandHeredoc("echo '$FILE' \"$PORTS\"\n", ENV));
    }

    @Test
    void onlyBackslashOrBacktickCanEscape() {
        assertThrows(IllegalArgumentException.class, () -> new ShellWordExpander('^'));
    }
}
