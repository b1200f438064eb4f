package dev.kiln.builder.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.dockerfile.Stage;
import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.plan.BuildPlan;
import dev.kiln.builder.steps.BuildSession;
import dev.kiln.builder.steps.StageContext;
import dev.kiln.oci.MediaTypes;
import dev.kiln.registry.client.BlobCache;
import dev.kiln.registry.client.ImagePuller;
import dev.kiln.registry.client.MirrorRoutes;
import dev.kiln.registry.client.PulledImage;
import dev.kiln.registry.client.Registries;
import dev.kiln.registry.client.Retry;
import dev.kiln.testkit.RegistryWithBase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FROM on its own: what a stage starts with from {@code scratch}, from a pulled image (its layers
 * pending, its SHELL, its ENV in scope, its ONBUILD triggers as the first steps) and from an
 * earlier stage, and the key each start gives the stage's first cached step.
 */
class FromStepTest {
    private static RegistryWithBase registry;

    @TempDir
    Path dir;

    private final List<BuildEvent> events = new ArrayList<>();

    @BeforeAll
    static void startRegistryWithBase() throws Exception {
        registry = RegistryWithBase.start("from-base", """
                ENV BASE_DIR=/srv
                SHELL ["/bin/sh", "-ec"]
                ONBUILD RUN echo triggered
                ONBUILD ENV FROM_TRIGGER=yes
                """);
    }

    @AfterAll
    static void stop() throws IOException, InterruptedException {
        if (registry != null) {
            registry.close();
        }
    }

    private ImagePulls pulls() {
        Registries registries = new Registries(Set.of(registry.host()), host -> Optional.empty(), Duration.ofSeconds(5),
                Duration.ofSeconds(60));
        return new ImagePulls(new ImagePuller(registries, MirrorRoutes.none(), new BlobCache(dir.resolve("blobs")), Retry.NONE),
                "linux/amd64", events::add);
    }

    private FromStep.Started start(BuildPlan plan, String layerFormat, int stage, Map<Integer, StageContext> built)
            throws Exception {
        BuildSession session = BuildSession.builder(Files.createDirectories(dir.resolve("build")), Files.createDirectories(dir.resolve("ctx")))
                .events(events::add).build();
        Stage s = plan.stages().get(stage);
        return new FromStep(plan, pulls(), layerFormat).start(session, s,
                Files.createDirectories(dir.resolve("rootfs-" + stage + "-" + layerFormat)), built);
    }

    @Test
    void scratchStartsEmptyWithTheDefaultPathAndAKeyOfThePlatformAndLayerFormat() throws Exception {
        BuildPlan amd = BuildPlan.of("FROM scratch\nCOPY a /a\n", "Dockerfile", Map.of(), null, "linux/amd64");
        FromStep.Started started = start(amd, "gzip", 0, Map.of());
        StageContext s = started.context();
        assertEquals(List.of(StageContext.DEFAULT_PATH), s.container().env());
        assertEquals("amd64", s.config().architecture());
        assertTrue(s.layers().isEmpty() && s.pending().isEmpty());
        assertEquals(1, started.steps().size());
        assertTrue(started.triggers().isEmpty());

        String gzipKey = s.key();
        assertEquals(gzipKey, start(amd, "gzip", 0, Map.of()).context().key(), "the same start, the same key");
        assertNotEquals(gzipKey, start(amd, "zstd", 0, Map.of()).context().key(), "a zstd build never reuses gzip layers");
        BuildPlan arm = BuildPlan.of("FROM scratch\nCOPY a /a\n", "Dockerfile", Map.of(), null, "linux/arm64");
        assertNotEquals(gzipKey, start(arm, "gzip", 0, Map.of()).context().key(), "nor another platform's");
    }

    @Test
    void anImageStartsWithItsLayersPendingItsConfigAndItsTriggersFirst() throws Exception {
        BuildPlan plan = BuildPlan.of("FROM " + registry.base() + "\nRUN echo own\n", "Dockerfile", Map.of(), null, "linux/amd64");
        FromStep.Started started = start(plan, "gzip", 0, Map.of());
        StageContext s = started.context();

        assertTrue(s.source().toString().startsWith(registry.base() + "@sha256:"), "pinned to what was pulled: " + s.source());
        assertEquals(s.layers().size(), s.pending().size(), "nothing unpacked until a step needs the files");
        assertTrue(s.layers().size() >= 1);
        for (PulledImage.Blob layer : s.layers()) {
            assertTrue(layer.descriptor().mediaType().startsWith(MediaTypes.OCI_LAYER), "OCI media types: " + layer.descriptor());
        }
        assertEquals(List.of("/bin/sh", "-ec"), s.shell().shell(), "the base's SHELL is the stage's");
        assertEquals("/srv", s.scope().env().get("BASE_DIR"), "the base's ENV is in scope for the stage's words");
        assertEquals(List.of("RUN echo triggered", "ENV FROM_TRIGGER=yes"),
                started.triggers().stream().map(t -> t.node().original().trim()).toList());
        assertEquals(3, started.steps().size(), "the triggers, then the stage's own RUN");
        assertEquals("RUN echo own", started.steps().get(2).node().original().trim());
        assertNull(s.container().onBuild(), "triggers run once: the new image does not inherit them");
        assertTrue(events.stream().anyMatch(e -> e instanceof BuildEvent.Message m && m.text().startsWith("pulled " + registry.base())),
                "the pull is reported");
        assertNotEquals(start(plan, "zstd", 0, Map.of()).context().key(), s.key());
    }

    @Test
    void anEarlierStageIsContinuedWithItsLayersKeyAndShell() throws Exception {
        BuildPlan plan = BuildPlan.of("FROM " + registry.base() + " AS base\nRUN echo one\n\nFROM base\nRUN echo two\n",
                "Dockerfile", Map.of(), null, "linux/amd64");
        StageContext base = start(plan, "gzip", 0, Map.of()).context();
        base.key("after-base-steps");
        Map<Integer, StageContext> built = new HashMap<>();
        built.put(0, base);

        FromStep.Started started = start(plan, "gzip", 1, built);
        StageContext s = started.context();
        assertSame(base, s.parent(), "its files come from the stage it continues");
        assertEquals(base.layers(), s.layers());
        assertTrue(s.pending().isEmpty(), "the base stage unpacks its own layers");
        assertEquals("after-base-steps", s.key(), "keys chain on from where the earlier stage ended");
        assertEquals(base.shell(), s.shell());
        assertEquals(base.config(), s.config());
        assertTrue(started.triggers().isEmpty(), "the earlier stage ran the image's triggers already");
        assertEquals(1, started.steps().size());
    }
}
