package dev.kiln.builder.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.RegistryWithBase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * COPY and ADD written straight from the context ({@link DirectCopy}) against the same build
 * with every layer unpacked into the rootfs first (no layer store): the same image digest,
 * reproducibly, for COPYs that can go without the rootfs and for those that must not (a
 * symlinked destination, an owner name, a file the COPY replaces), each built cold and again
 * after its source changed (then the earlier steps are cache hits and nothing is unpacked).
 */
class DirectCopyBuildTest {
    private static final String DIRECT = "wrote the layer without the root filesystem";
    private static RegistryWithBase registry;
    private static String base;

    @TempDir
    Path dir;

    @BeforeAll
    static void startRegistryWithBase() throws Exception {
        registry = RegistryWithBase.start("direct-base", """
                RUN mkdir -p /etc /opt/new/sub /srv && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd \\
                    && echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo old > /opt/new/sub/old \\
                    && chmod 0750 /opt/new && chown 7:8 /opt/new/sub && ln -s /opt/new /link && echo f > /srv/file
                WORKDIR /gone
                RUN cd / && rmdir /gone
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

    private String build(Path ctx, String name, boolean store) {
        List<String> args = new ArrayList<>(List.of("-c", ctx.toString(), "--cache", "--cache-repo",
                registry.host() + "/cache-" + name + (store ? "-store" : "-unpacked"), "--insecure-registry", registry.host(),
                "--reproducible", "--verbosity", "debug", "--cache-dir", dir.resolve(store ? "cache-store" : "cache-unpacked").toString(),
                "-d", registry.host() + "/direct-" + name + ":" + (store ? "store" : "unpacked")));
        if (!store) {
            args.addAll(List.of("--layer-store-max-bytes", "0"));
        }
        return build(args.toArray(String[]::new));
    }

    /** The layers the store keeps unpacked (by ChainID). */
    private List<String> keptLayers() throws IOException {
        Path layers = dir.resolve("cache-store/layers/layers");
        if (!Files.isDirectory(layers)) {
            return List.of();
        }
        try (var list = Files.list(layers)) {
            return list.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static String digestOf(String log) {
        return RegistryWithBase.digestOf(log);
    }

    private static int count(String log, String line) {
        return log.split(Pattern.quote(line), -1).length - 1;
    }

    /**
     * @param steps  the Dockerfile after FROM ({@code |} for a new line)
     * @param direct how many COPY/ADD steps go without the rootfs in the rebuild
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
        "into a directory a RUN made; RUN mkdir /app && echo built > /app/built|COPY a.txt /app/a.txt; 1",
        "into an existing directory with its own mode, owner and mode flags; COPY --chown=1000:1000 --chmod=0640 tree/ /opt/new/sub/|COPY tree /opt/new/deeper; 2",
        "relative to the WORKDIR, several sources, then a heredoc and a RUN reading both; WORKDIR /srv/www/site|COPY a.txt tree ./|COPY <<EOF h.txt|hello|EOF|RUN cat a.txt h.txt > both; 2",
        "relative to a WORKDIR the image lacks; COPY a.txt ./; 1",
        "through a symlink in the destination; COPY a.txt /link/sub/; 0",
        "with an owner name from /etc/passwd; COPY --chown=app a.txt /home/app/; 0",
        "over a file below; COPY a.txt /srv/file; 0",
        "into a directory whose entries it meets; COPY tree/ /opt/new/; 0",
    })
    void theLayersAreTheSameAsWithTheRootfsUnpacked(String what, String steps, int direct) throws IOException {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("Dockerfile"), "FROM " + base + "\n" + steps.replace("|", "\n") + "\n");
        Files.writeString(ctx.resolve("a.txt"), "one\n");
        Files.createDirectories(ctx.resolve("tree/sub/deep"));
        Files.writeString(ctx.resolve("tree/sub/deep/x"), "x\n");
        Files.writeString(ctx.resolve("tree/top"), "top\n");
        String name = Integer.toHexString(what.hashCode());

        String cold = build(ctx, name, true);
        assertEquals(digestOf(build(ctx, name, false)), digestOf(cold), what + ": cold build\n" + cold);
        List<String> keptCold = keptLayers();

        Files.writeString(ctx.resolve("a.txt"), "two\n");
        Files.writeString(ctx.resolve("tree/top"), "top two\n");
        String rebuild = build(ctx, name, true);
        String unpacked = build(ctx, name, false);
        assertEquals(digestOf(unpacked), digestOf(rebuild), what + ": rebuild\n" + rebuild + "\n--- unpacked:\n" + unpacked);
        assertEquals(direct, count(rebuild, DIRECT), what + ": COPYs without the rootfs\n" + rebuild);
        assertEquals(0, count(unpacked, DIRECT), "no store, no lookup:\n" + unpacked);
        if (!steps.contains("RUN") && direct > 0) {
            assertTrue(!rebuild.contains("unpacked the root filesystem"), "unpacked after all:\n" + rebuild);
        }
        if (direct > 0 && !steps.substring(steps.lastIndexOf("COPY")).contains("RUN")) {
            // the cached layers below the COPY were looked at through their listings, not unpacked
            assertEquals(keptCold, keptLayers(), what + ": layers unpacked into the store by the rebuild\n" + rebuild);
        }
    }
}
