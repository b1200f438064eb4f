package dev.kiln.builder.dockerfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** BuildKit's expansion tables: every A (all platforms) and U (Unix) row of envVarTest, every wordsTest row. */
class BuildKitShellCorpusTest {

    private static final Map<String, String> ENV_VAR_TEST_ENV =
            Map.of("PWD", "/home", "SHELL", "bash", "KOREAN", "한국어", "NULL", "");

    private final ShellWordExpander expander = new ShellWordExpander('\\');

    @TestFactory
    Stream<DynamicTest> envVarTest() throws IOException {
        return TestData.corpus(root -> envVarRows(root.resolve("buildkit-shell/envVarTest")));
    }

    @TestFactory
    Stream<DynamicTest> wordsTest() throws IOException {
        return TestData.corpus(root -> wordsRows(root.resolve("buildkit-shell/wordsTest")));
    }

    private Stream<DynamicTest> envVarRows(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        List<DynamicTest> tests = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).stripLeading();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] cols = line.split("\\|", 3);
            if (!cols[0].equals("A") && !cols[0].equals("U")) {
                continue;
            }
            String input = cols[1].strip();
            String expected = cols[2].strip();
            String name = "envVarTest line " + (i + 1) + ": " + input;
            tests.add(DynamicTest.dynamicTest(name, () -> {
                if (expected.equals("error")) {
                    assertThrows(ShellExpansionException.class, () -> expander.expand(input, ENV_VAR_TEST_ENV), name);
                } else {
                    assertEquals(expected, expander.expand(input, ENV_VAR_TEST_ENV), name);
                }
            }));
        }
        assertFalse(tests.isEmpty(), "no envVarTest rows found");
        return tests.stream();
    }

    private Stream<DynamicTest> wordsRows(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        Map<String, String> env = new HashMap<>();
        List<DynamicTest> tests = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (line.startsWith("ENV ")) {
                String assignment = line.substring(4).replaceFirst("^ +", "");
                int eq = assignment.indexOf('=');
                env.put(assignment.substring(0, eq), assignment.substring(eq + 1));
                continue;
            }
            String[] cols = line.split("\\|", -1);
            assertEquals(2, cols.length, "malformed wordsTest line " + (i + 1));
            String input = cols[0].strip();
            List<String> expected = Arrays.asList(cols[1].replaceFirst("^ +", "").split(",", -1));
            Map<String, String> snapshot = Map.copyOf(env);
            String name = "wordsTest line " + (i + 1) + ": " + input;
            tests.add(DynamicTest.dynamicTest(name, () -> {
                if (expected.equals(List.of("error"))) {
                    assertThrows(ShellExpansionException.class, () -> expander.expandWords(input, snapshot), name);
                } else {
                    assertEquals(expected, expander.expandWords(input, snapshot), name);
                }
            }));
        }
        assertFalse(tests.isEmpty(), "no wordsTest rows found");
        return tests.stream();
    }
}
