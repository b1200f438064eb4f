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
 *
 * <p>Also configures an upstream {@value #TEST_UPSTREAM} on a free loopback port where nothing
 * listens yet (and lets builds reach it over plain HTTP): a test that needs an upstream starts a
 * real registry there. Every test class shares this one resource, so Quarkus starts only once.
 */
public class WipeTestStore implements QuarkusTestResourceLifecycleManager {
    static final Path STORE = Path.of("target", "test-store");
    static final String TEST_UPSTREAM = "mirror.test";

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
        int port;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port for the test upstream", e);
        }
        return Map.of("kiln.store", STORE.toString(),
                "kiln.mirror.upstreams.\"" + TEST_UPSTREAM + "\".url", "http://127.0.0.1:" + port,
                "kiln.builds.insecure-registries", "127.0.0.1:" + port);
    }

    @Override
    public void stop() {
    }
}
