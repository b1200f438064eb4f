package dev.kiln.app.http;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Deletes the test store before the application starts, so every run begins with an empty registry.
 * Tests still use unique repository names, so they do not depend on each other's order.
 */
public class WipeTestStore implements QuarkusTestResourceLifecycleManager {
    static final Path STORE = Path.of("target", "test-store");

    @Override
    public Map<String, String> start() {
        try {
            if (Files.exists(STORE)) {
                try (Stream<Path> paths = Files.walk(STORE)) {
                    for (Path path : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                        Files.delete(path);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot wipe " + STORE, e);
        }
        return Map.of("kiln.store", STORE.toString());
    }

    @Override
    public void stop() {
    }
}
