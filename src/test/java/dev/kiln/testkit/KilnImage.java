package dev.kiln.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Kiln's image as a user builds it: {@code scripts/build-image} on this checkout (so the packaged
 * jar of this build), pushed to a docker-registry that lives as long as the test JVM, because
 * podman pulls from it whenever a pod starts. Built once per JVM, whichever suite asks first.
 */
public final class KilnImage {
    private static DockerRegistry registry;
    private static String gateway;
    private static String executor;

    private KilnImage() {
    }

    /** The gateway flavour's reference, e.g. {@code 127.0.0.1:41234/kiln/kiln:it}. */
    public static synchronized String gateway() {
        if (gateway == null) {
            gateway = build(false, "kiln/kiln:it");
        }
        return gateway;
    }

    /** The executor flavour: kaniko's arguments with no subcommand, in-place builds allowed. */
    public static synchronized String executor() {
        if (executor == null) {
            executor = build(true, "kiln/executor:it");
        }
        return executor;
    }

    /** The registry the image lives in, {@code 127.0.0.1:port}. */
    public static synchronized String registryHost() {
        return registry().host();
    }

    private static DockerRegistry registry() {
        if (registry == null) {
            try {
                Path dir = Files.createTempDirectory("kiln-image-registry-");
                registry = DockerRegistry.start(dir);
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    registry.close();
                    Tools.run(List.of("rm", "-rf", dir.toString()), Map.of(), 60);
                }));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return registry;
    }

    private static String build(boolean executorFlavour, String repository) {
        KilnProcess.jar(); // the image is made of the packaged jar: fails clearly outside mvn verify
        String ref = registry().host() + "/" + repository;
        long t0 = System.nanoTime();
        List<String> command = executorFlavour
                ? List.of("scripts/build-image", "--executor", ref, "--insecure")
                : List.of("scripts/build-image", ref, "--insecure");
        ExecResult built = Tools.run(command, Map.of(), 900);
        assertEquals(0, built.exitCode(), String.join(" ", command) + ":\n" + built.output());
        System.err.printf("KilnImage: %s built by scripts/build-image in %.1f s%n", ref, (System.nanoTime() - t0) / 1e9);
        return ref;
    }
}
