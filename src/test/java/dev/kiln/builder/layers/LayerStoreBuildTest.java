package dev.kiln.builder.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.testkit.RegistryWithBase;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kiln build} with the layer store, in process, against a real docker-registry: the
 * everyday loop (a rebuild after the last COPY source changed) takes its base from the kept
 * layers without unpacking them again, and builds the same image as without the store.
 */
class LayerStoreBuildTest {
    private static RegistryWithBase registry;
    private static String base;

    @TempDir
    Path dir;

    @BeforeAll
    static void startRegistryWithBusyboxBase() throws Exception {
        registry = RegistryWithBase.start("base", """
                RUN mkdir -p /etc /opt/old && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo gone > /etc/obsolete && echo o > /opt/old/o
                RUN rm /etc/obsolete && rm -r /opt/old && mkdir /opt/new
                """);
        base = registry.base();
    }

    @AfterAll
    static void stop() throws IOException, InterruptedException {
        if (registry != null) {
            registry.close();
        }
    }

    private static String build(String... args) {
        return RegistryWithBase.build(args);
    }

    private String appBuild(Path ctx, Path store, String cacheRepo, String... extra) {
        return build(appArgs(ctx, store, cacheRepo, extra));
    }

    private String[] appArgs(Path ctx, Path store, String cacheRepo, String... extra) {
        List<String> args = new ArrayList<>(List.of("-c", ctx.toString(), "--cache", "--cache-repo", registry.host() + "/" + cacheRepo,
                "--insecure-registry", registry.host(), "--reproducible", "--cache-dir", dir.resolve("cache-dir").toString(),
                "--layer-store-dir", store.toString(), "-d", registry.host() + "/app:latest"));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    private static String digestOf(String log) {
        return RegistryWithBase.digestOf(log);
    }

    /** Each kept layer's directory and the inode of its tree: a layer unpacked again gets a new one. */
    private static Map<String, Object> kept(Path store) throws IOException {
        Map<String, Object> kept = new TreeMap<>();
        try (Stream<Path> layers = Files.list(store.resolve("layers"))) {
            for (Path layer : (Iterable<Path>) layers::iterator) {
                kept.put(layer.getFileName().toString(), Files.getAttribute(layer.resolve("fs"), "unix:ino", LinkOption.NOFOLLOW_LINKS));
            }
        }
        return kept;
    }

    /**
     * A RUN on kept layers stacked by overlayfs is snapshotted by its own overlay, as on a copied
     * rootfs: before, it fell back to the walk, which also saw the sandbox's mount points come and
     * go in /etc (the base has no /etc/hosts) and put etc/ in the layer.
     */
    @Test
    void overlayAndCopyModesBuildTheSameImage() {
        assumeTrue(Tools.isRoot(), "mounting the kept layers needs root");
        Path ctx;
        try {
            ctx = Files.createDirectories(dir.resolve("ctx"));
            Files.writeString(ctx.resolve("Dockerfile"), """
                    FROM %s
                    RUN cat /etc/passwd > /passwd-copy && mkdir -p /etc/x && echo y > /etc/x/y
                    COPY a.txt /app/a.txt
                    RUN cat /app/a.txt > /app/seen
                    """.formatted(base));
            Files.writeString(ctx.resolve("a.txt"), "one\n");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Map<String, String> digests = new TreeMap<>();
        for (String mode : List.of("copy", "overlay")) {
            System.setProperty("kiln.layer-store.mode", mode);
            try {
                String log = appBuild(ctx, dir.resolve("store-" + mode), "cache-mode-" + mode, "--verbosity", "debug");
                assertTrue(log.contains(mode.equals("overlay") ? "by overlayfs" : "copied"), log);
                digests.put(mode, digestOf(log));
            } finally {
                System.clearProperty("kiln.layer-store.mode");
            }
        }
        assertEquals(digests.get("copy"), digests.get("overlay"), digests.toString());
    }

    /**
     * RUNs on kept layers stacked by overlayfs become layers of the mount themselves, not copies:
     * deletions (of the base's files and of an earlier RUN's), a directory replaced whole, a file
     * changed twice, a COPY in between, and each RUN sees what the ones before it did.
     */
    @Test
    void runsStackedOnTheKeptLayersBuildTheSameImageAsCopies() {
        assumeTrue(Tools.isRoot(), "mounting the kept layers needs root");
        Path ctx;
        try {
            ctx = Files.createDirectories(dir.resolve("ctx-stacked"));
            Files.writeString(ctx.resolve("Dockerfile"), """
                    FROM %s
                    RUN mkdir -p /data/d && echo one > /data/d/f && echo two > /data/g && rm /etc/passwd && echo a > /a
                    RUN test ! -e /etc/passwd && rm -r /data/d && mkdir /data/d && echo new > /data/d/h && echo a2 >> /a && rm /data/g
                    COPY a.txt /app/a.txt
                    RUN test ! -e /data/d/f && test ! -e /data/g && cat /a /app/a.txt /data/d/h > /seen && ls /data/d > /listing
                    """.formatted(base));
            Files.writeString(ctx.resolve("a.txt"), "one\n");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Map<String, String> digests = new TreeMap<>();
        for (String mode : List.of("copy", "overlay")) {
            System.setProperty("kiln.layer-store.mode", mode);
            try {
                String log = appBuild(ctx, dir.resolve("stacked-store-" + mode), "stacked-" + mode, "--verbosity", "debug");
                long stacked = log.lines().filter(l -> l.contains("a RUN's changes stacked on it by overlayfs")).count();
                assertEquals(mode.equals("overlay") ? 2 : 0, stacked, log);
                digests.put(mode, digestOf(log));
            } finally {
                System.clearProperty("kiln.layer-store.mode");
            }
        }
        assertEquals(digests.get("copy"), digests.get("overlay"), digests.toString());
    }

    @Test
    void aRebuildAfterTheLastCopyChangedReusesTheKeptLayersAndBuildsTheSameImage() throws IOException {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("Dockerfile"), """
                FROM %s
                RUN echo ran > /ran && ls /opt > /opt-list && cat /etc/passwd > /passwd-copy
                COPY a.txt /app/a.txt
                """.formatted(base));
        Files.writeString(ctx.resolve("a.txt"), "one\n");
        Path store = dir.resolve("layer-store");
        appBuild(ctx, store, "cache-app");
        Map<String, Object> afterFirst = kept(store);
        assertFalse(afterFirst.isEmpty(), "no layer kept");

        Files.writeString(ctx.resolve("a.txt"), "two\n");
        String second = appBuild(ctx, store, "cache-app");
        Map<String, Object> afterSecond = kept(store);
        for (Map.Entry<String, Object> e : afterFirst.entrySet()) {
            assertEquals(e.getValue(), afterSecond.get(e.getKey()), "layer " + e.getKey() + " was unpacked again\n" + second);
        }
        // the COPY looked below through the cached RUN layer's listing, which the first build kept
        assertEquals(afterFirst.keySet(), afterSecond.keySet(), "the cached RUN layer was unpacked\n" + second);
        try (Stream<Path> listings = Files.list(store.resolve("listings"))) {
            assertFalse(listings.toList().isEmpty(), "no listing kept");
        }
        try (Stream<Path> tmp = Files.list(store.resolve("tmp"))) {
            assertEquals(List.of(), tmp.toList(), "left in tmp/");
        }

        // the same build with no store: the same image, byte for byte
        String without = appBuild(ctx, dir.resolve("unused-store"), "cache-nostore", "--layer-store-max-bytes", "0");
        assertEquals(digestOf(without), digestOf(second), "the store changed the image");
        assertFalse(Files.exists(dir.resolve("unused-store")), "a budget of 0 keeps nothing");
    }

    /** A RUN that fails on kept layers stacked by overlayfs: the build ends with nothing of the store mounted. */
    @Test
    void aFailedRunLeavesNoOverlayOfTheKeptLayersMounted() throws IOException {
        assumeTrue(Tools.isRoot(), "mounting the kept layers needs root");
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("Dockerfile"), """
                FROM %s
                RUN echo half > /half && exit 3
                """.formatted(base));
        Path store = dir.resolve("store-failing");
        RegistryWithBase.Run failed = RegistryWithBase.run(appArgs(ctx, store, "cache-failing", "--verbosity", "debug"));
        assertTrue(failed.exit() != 0, failed.log());
        assertTrue(failed.log().contains("by overlayfs"), "the default did not stack by overlayfs:\n" + failed.log());
        String storePath = store.toRealPath().toString();
        try (Stream<String> mountinfo = Files.lines(Path.of("/proc/self/mountinfo"))) {
            List<String> left = mountinfo.filter(l -> l.contains(storePath)).toList();
            assertEquals(List.of(), left, failed.log());
        }
        try (Stream<Path> records = Files.list(store.resolve("mounts"))) {
            assertEquals(List.of(), records.toList(), "mount records left");
        }
    }
}
