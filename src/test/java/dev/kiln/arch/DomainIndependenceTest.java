package dev.kiln.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Everything outside {@code dev.kiln.app} is plain Java: it must not import the framework. */
class DomainIndependenceTest {
    private static final Pattern FRAMEWORK = Pattern.compile(
            "^import\\s+(static\\s+)?(io\\.quarkus|io\\.vertx|io\\.smallrye|jakarta\\.|javax\\.inject|javax\\.ws|org\\.eclipse\\.microprofile|io\\.fabric8|dev\\.kiln\\.app)\\b.*",
            Pattern.MULTILINE);

    @Test
    void domainPackagesDoNotImportQuarkusOrTheAppLayer() throws IOException {
        Path root = Path.of("src/main/java/dev/kiln");
        assertTrue(Files.isDirectory(root), "run from the project root");
        List<String> violations = new ArrayList<>();
        int checked = 0;
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                if (root.relativize(file).startsWith("app")) {
                    continue;
                }
                checked++;
                var m = FRAMEWORK.matcher(Files.readString(file));
                while (m.find()) {
                    violations.add(root.relativize(file) + ": " + m.group());
                }
            }
        }
        assertTrue(checked > 10, "found the domain sources");
        assertEquals(List.of(), violations);
    }
}
