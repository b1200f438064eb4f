package dev.kiln.builder.dockerfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** BuildKit's own parser test files: positive cases must dump exactly their {@code result}. */
class BuildKitParserCorpusTest {

    @TestFactory
    Stream<DynamicTest> positiveCasesPrintTheirResult() throws IOException {
        return TestData.corpus(root -> positive(root.resolve("buildkit-parser/positive")));
    }

    @TestFactory
    Stream<DynamicTest> negativeCasesFail() throws IOException {
        return TestData.corpus(root -> negative(root.resolve("buildkit-parser/negative")));
    }

    private static Stream<DynamicTest> positive(Path casesDir) throws IOException {
        List<Path> cases = TestData.caseDirectories(casesDir);
        assertFalse(cases.isEmpty(), "no positive cases found");
        return cases.stream().map(dir -> DynamicTest.dynamicTest(dir.getFileName().toString(), () -> {
            String dockerfile = Files.readString(dir.resolve("Dockerfile"), StandardCharsets.UTF_8);
            String expected = Files.readString(dir.resolve("result"), StandardCharsets.UTF_8);
            assertEquals(expected, DockerfileParser.parse(dockerfile).toBuildKitString(), "positive case " + dir.getFileName());
        }));
    }

    private static Stream<DynamicTest> negative(Path casesDir) throws IOException {
        List<Path> cases = TestData.caseDirectories(casesDir);
        assertFalse(cases.isEmpty(), "no negative cases found");
        return cases.stream().map(dir -> DynamicTest.dynamicTest(dir.getFileName().toString(), () -> {
            String dockerfile = Files.readString(dir.resolve("Dockerfile"), StandardCharsets.UTF_8);
            assertThrows(DockerfileParseException.class, () -> DockerfileParser.parse(dockerfile),
                    "negative case " + dir.getFileName());
        }));
    }
}
