package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Ports;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kiln build} checks its destinations before any step runs, as kaniko does: the reference
 * parses, the registry answers, it accepts the start of an upload. What a person sees is one line
 * naming the destination and the registry's reason, and no step of the build.
 */
class PushPermissionCheckIT {
    @TempDir
    Path work;

    private Path context;

    @BeforeEach
    void context() throws IOException {
        context = Files.createDirectories(work.resolve("context"));
        Files.writeString(context.resolve("hello.txt"), "hello\n");
        Files.writeString(context.resolve("Dockerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\n");
    }

    @Test
    void aRegistryThatIsDownIsNamedBeforeAnyStep() {
        String down = "127.0.0.1:" + Ports.freePort();
        ExecResult build = build("-d", down + "/local/app:1", "--insecure-registry", down);
        assertRefusedUpFront(build, down + "/local/app:1", "unreachable");
        assertTrue(build.output().contains("connection refused"), build.output());
    }

    @Test
    void aNameTheGatewayReservesForTheMirrorGetsItsDeniedMessageUpFront() {
        try (KilnProcess kiln = KilnProcess.start("push-check", work.resolve("store"))) {
            String destination = kiln.hostPort() + "/library/app:1";
            ExecResult build = build("-d", destination, "--insecure-registry", kiln.hostPort());
            assertRefusedUpFront(build, destination, "403");
            assertTrue(build.output().contains("local/"), "the gateway's message names the namespaces that take pushes:\n"
                    + build.output() + "\nserver log:\n" + kiln.log());

            ExecResult allowed = build("-d", kiln.hostPort() + "/local/app:1", "--insecure-registry", kiln.hostPort());
            assertEquals(0, allowed.exitCode(), "a push to the local namespace passes the check and the build pushes:\n"
                    + allowed.output() + "\nserver log:\n" + kiln.log());
        }
    }

    @Test
    void aRegistryThatWantsCredentialsSaysSoBeforeAnyStep() throws IOException {
        try (DockerRegistry registry = DockerRegistry.start(work.resolve("registry"), "builder", "s3cret")) {
            String destination = registry.host() + "/team/app:1";
            ExecResult build = build("-d", destination, "--insecure-registry", registry.host());
            assertRefusedUpFront(build, destination, "no credentials");
        }
    }

    @Test
    void aDestinationThatIsNoImageReferenceIsRefusedBeforeAnyStep() {
        ExecResult build = build("-d", "localhost:5000/Upper/Case:1");
        assertRefusedUpFront(build, "localhost:5000/Upper/Case:1", "is not an image reference");
    }

    @Test
    void skipPushPermissionCheckAndNoPushSkipTheCheck() {
        String down = "127.0.0.1:" + Ports.freePort();
        ExecResult skipped = build("-d", down + "/local/app:1", "--insecure-registry", down, "--skip-push-permission-check");
        assertEquals(1, skipped.exitCode(), skipped.output());
        assertTrue(skipped.output().contains("STEP 2/2"), "without the check every step runs before the push fails:\n" + skipped.output());
        assertFalse(skipped.output().contains("checked before the build"), skipped.output());

        ExecResult noPush = build("-d", down + "/local/app:1", "--no-push");
        assertEquals(0, noPush.exitCode(), "--no-push needs no reachable destination:\n" + noPush.output());
    }

    private static void assertRefusedUpFront(ExecResult build, String destination, String reason) {
        String output = build.output();
        assertEquals(1, build.exitCode(), output);
        List<String> fatal = output.lines().filter(l -> l.contains("cannot push to") || l.contains("--destination")).toList();
        assertEquals(1, fatal.size(), "one line says why:\n" + output);
        String line = fatal.get(0);
        assertTrue(line.contains(destination) && line.contains(reason), "the line names " + destination + " and " + reason + ":\n" + output);
        assertTrue(line.contains("--skip-push-permission-check"), "the line names the flag that skips the check:\n" + output);
        assertFalse(output.contains("STEP 1/"), "no step runs before the check:\n" + output);
    }

    private ExecResult build(String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", KilnProcess.jar().toString(), "build",
                "-c", context.toString(), "--cache-dir", work.resolve("blobs").toString()));
        command.addAll(List.of(args));
        // an empty docker config: the credentials of whoever runs the test must not leak in
        return Tools.run(command, Map.of("DOCKER_CONFIG", work.resolve("docker").toString()), 300);
    }
}
