package dev.kiln.builder.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.RegistryWithBase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A base image named by several stages is pulled once per build, also when independent stages
 * start at the same time: one tag, one digest for the whole build, and no second fetch beside the first.
 */
class ImagePullsBuildTest {
    private static RegistryWithBase registry;

    @TempDir
    Path dir;

    @BeforeAll
    static void startRegistryWithBase() throws Exception {
        registry = RegistryWithBase.start("pulls-base", "RUN echo base > /base.txt");
    }

    @AfterAll
    static void stop() throws IOException, InterruptedException {
        if (registry != null) {
            registry.close();
        }
    }

    @Test
    void stagesOnOneBaseShareOnePullAtOnceAndOneAfterTheOther() throws IOException {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        Files.writeString(ctx.resolve("Dockerfile"), """
                FROM %1$s AS one
                RUN echo one > /one.txt

                FROM %1$s AS two
                RUN echo two > /two.txt

                FROM %1$s
                COPY --from=one /one.txt /one.txt
                COPY --from=two /two.txt /two.txt
                COPY --from=%1$s /base.txt /again.txt
                """.formatted(registry.base()));
        String digest = null;
        for (String parallel : new String[] {"2", "1"}) {
            String log = RegistryWithBase.build("-c", ctx.toString(), "--no-push", "--reproducible", "--insecure-registry",
                    registry.host(), "--cache-dir", dir.resolve("cache-" + parallel).toString(), "--max-parallel-stages", parallel);
            long pulls = log.lines().filter(l -> l.startsWith("pulled " + registry.base() + " (")).count();
            assertEquals(1, pulls, "--max-parallel-stages " + parallel + ": one pull for three FROMs and a COPY --from:\n" + log);
            assertEquals(3, log.lines().filter(l -> l.contains("STEP 1/") && l.contains("FROM " + registry.base())).count(), log);
            if (digest != null) {
                assertEquals(digest, RegistryWithBase.digestOf(log), "the same image either way");
            }
            digest = RegistryWithBase.digestOf(log);
        }
        assertTrue(digest.startsWith("sha256:"));
    }
}
