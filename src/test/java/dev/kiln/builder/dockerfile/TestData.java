package dev.kiln.builder.dockerfile;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;

/**
 * Locates the shared BuildKit corpus ({@code -Dkiln.testdata}, default {@code ../shared/testdata}).
 * When it is absent each corpus factory yields one test that is skipped with that message, so
 * the report shows a skip rather than an empty, silently green factory.
 */
final class TestData {

    interface CorpusTests {
        Stream<DynamicTest> create(Path root) throws IOException;
    }

    private TestData() {
    }

    static Stream<DynamicTest> corpus(CorpusTests tests) throws IOException {
        Path root = Path.of(System.getProperty("kiln.testdata", "../shared/testdata"));
        if (!Files.isDirectory(root)) {
            String message = "BuildKit test corpus not found at " + root.toAbsolutePath().normalize()
                    + " (set -Dkiln.testdata=<dir>); corpus tests skipped";
            return Stream.of(DynamicTest.dynamicTest("corpus missing", () -> assumeTrue(false, message)));
        }
        return tests.create(root);
    }

    static List<Path> caseDirectories(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).sorted().toList();
        }
    }
}
