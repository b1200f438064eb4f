package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExecutorModeTest {
    private static final Map<String, String> EXECUTOR = Map.of("KILN_EXECUTOR_CONTAINER", "1");

    @Test
    void inTheExecutorContainerKanikosDefaultsApply() {
        ExecutorMode mode = ExecutorMode.of(EXECUTOR, null);
        assertTrue(mode.active());
        assertEquals("/workspace/", mode.defaultContext());
        assertEquals("in-place", mode.defaultSandbox());
        assertEquals(Path.of("/kaniko"), mode.kanikoDir());
    }

    @Test
    void outsideTheExecutorContainerNothingChanges(@TempDir Path home) {
        for (Map<String, String> env : List.of(Map.<String, String>of(), Map.of("KILN_EXECUTOR_CONTAINER", "0"))) {
            ExecutorMode mode = ExecutorMode.of(env, null);
            assertFalse(mode.active());
            assertEquals(".", mode.defaultContext());
            assertEquals("auto", mode.defaultSandbox());
            assertNull(mode.defaultCacheDir());
            assertSame(env, mode.credentialEnvironment(env, home), "no DOCKER_CONFIG is made up outside the executor");
        }
    }

    @Test
    void theKanikoDirFlagBeatsKanikoDirInTheEnvironmentUnlessItIsTheDefault() {
        Map<String, String> env = Map.of("KILN_EXECUTOR_CONTAINER", "1", "KANIKO_DIR", "/env/kaniko");
        assertEquals(Path.of("/flag/kaniko"), ExecutorMode.of(env, "/flag/kaniko").kanikoDir());
        assertEquals(Path.of("/env/kaniko"), ExecutorMode.of(env, "/kaniko").kanikoDir(), "kaniko's rule: the default flag value loses");
        assertEquals(Path.of("/env/kaniko"), ExecutorMode.of(env, null).kanikoDir());
        assertFalse(ExecutorMode.of(EXECUTOR, null).explicitKanikoDir());
        assertTrue(ExecutorMode.of(env, null).explicitKanikoDir());
    }

    @Test
    void dockerConfigIsKanikosDirThenKilnsUnlessDockerConfigIsSet(@TempDir Path tmp) throws IOException {
        Path kaniko = tmp.resolve("kaniko");
        Path kiln = tmp.resolve("kiln");
        ExecutorMode mode = ExecutorMode.of(EXECUTOR, kaniko.toString());
        // neither has a config.json: kaniko's place, where a ConfigMap would be mounted
        assertEquals(kaniko.resolve(".docker").toString(), mode.credentialEnvironment(EXECUTOR, kiln).get("DOCKER_CONFIG"));
        Files.createDirectories(kiln.resolve(".docker"));
        Files.writeString(kiln.resolve(".docker/config.json"), "{}");
        assertEquals(kiln.resolve(".docker").toString(), mode.credentialEnvironment(EXECUTOR, kiln).get("DOCKER_CONFIG"));
        Files.createDirectories(kaniko.resolve(".docker"));
        Files.writeString(kaniko.resolve(".docker/config.json"), "{}");
        assertEquals(kaniko.resolve(".docker").toString(), mode.credentialEnvironment(EXECUTOR, kiln).get("DOCKER_CONFIG"));
        Map<String, String> explicit = Map.of("KILN_EXECUTOR_CONTAINER", "1", "DOCKER_CONFIG", "/mine");
        assertEquals("/mine", mode.credentialEnvironment(explicit, kiln).get("DOCKER_CONFIG"));
    }

    @Test
    void kanikoNoPushFromTheEnvironmentMeansNoDestinationIsNeeded(@TempDir Path tmp) {
        List<String> args = List.of("--context=" + tmp, "--dockerfile=" + tmp.resolve("none"));
        String without = KanikoFlagsTest.runBuild(args, Map.of());
        assertTrue(without.contains("--destination"), without);
        String with = KanikoFlagsTest.runBuild(args, Map.of("KANIKO_NO_PUSH", "true"));
        assertFalse(with.contains("--destination"), "KANIKO_NO_PUSH=true is --no-push:\n" + with);
        assertTrue(with.contains("none"), "the build went on to read the Dockerfile:\n" + with);
    }

    @Test
    void withoutAContextTheExecutorBuildsWorkspaceAndKilnTheCurrentDirectory(@TempDir Path tmp) {
        // a GCS --bucket is refused with a clear line, an s3:// one is the context
        String gcs = KanikoFlagsTest.runBuild(List.of("--bucket=my-bucket", "--no-push"), Map.of());
        assertTrue(gcs.contains("--bucket my-bucket") && gcs.contains("GCS"), gcs);
        String executor = KanikoFlagsTest.runBuild(List.of("--no-push", "--sandbox=namespaces", "--dockerfile=" + tmp.resolve("none")),
                EXECUTOR);
        assertTrue(executor.contains("/workspace"), "the executor's context is /workspace/:\n" + executor);
        String plain = KanikoFlagsTest.runBuild(List.of("--no-push", "--dockerfile=" + tmp.resolve("none")), Map.of());
        assertFalse(plain.contains("/workspace"), plain);
    }
}
