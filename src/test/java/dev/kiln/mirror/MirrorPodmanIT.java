package dev.kiln.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.OciLayout.Content;
import dev.kiln.testkit.OciLayout.Image;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.OciLayout;
import dev.kiln.testkit.Poll;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * podman configured with Kiln as the docker.io mirror pulls {@code docker.io/library/busybox:1}. Docker
 * Hub is unreachable here, so a pull that succeeds came through the mirror.
 */
@Timeout(120)
class MirrorPodmanIT {
    @TempDir
    Path tmp;
    Skopeo skopeo;

    @Test
    void podmanPullsDockerHubImagesThroughTheMirror() throws Exception {
        skopeo = new Skopeo(tmp.resolve("skopeo"));
        OciLayout layout = new OciLayout(tmp.resolve("layout"));
        Image image = layout.image("busybox", Content.of("podman-busybox"));
        OciLayout.Blob index = layout.index("multi", List.of(image, layout.image("arm", Content.of("podman-busybox").arch("arm64"))),
                List.of("amd64", "arm64"));
        try (DockerRegistry upstream = DockerRegistry.start(tmp.resolve("upstream"))) {
            skopeo.push(layout.ref("multi"), upstream.host() + "/library/busybox:1", "--all");
            try (KilnProcess kiln = KilnProcess.configure("mirror-podman", tmp.resolve("kiln").resolve("store")).jvmOptions("-Xmx512m")
                .args("--upstream", "docker.io=" + upstream.url()).start()) {
                Path registries = tmp.resolve("registries.conf");
                Files.writeString(registries, """
                        unqualified-search-registries = ["docker.io"]

                        [[registry]]
                        prefix = "docker.io"
                        location = "docker.io"

                        [[registry.mirror]]
                        location = "%s"
                        insecure = true
                        """.formatted(kiln.hostPort()));
                Map<String, String> env = Map.of("CONTAINERS_REGISTRIES_CONF", registries.toString());

                ExecResult pull = podman(env, "pull", "docker.io/library/busybox:1");
                assertEquals(0, pull.exitCode(), pull.output() + "\n--- kiln log:\n" + kiln.log());
                ExecResult digest = podman(env, "image", "inspect", "--format", "{{.Digest}}", "docker.io/library/busybox:1").requireSuccess();
                assertEquals(index.digest(), digest.output().trim(), "the image keeps the upstream's index digest");
                ExecResult config = podman(env, "image", "inspect", "--format", "{{.Id}}", "docker.io/library/busybox:1").requireSuccess();
                assertEquals(image.config().digest().substring(7), config.output().trim(), "podman picked the amd64 image");

                assertEquals(1L, Poll.settle(1L, () -> upstream.count("GET", "/v2/library/busybox/manifests/1")),
                        "the upstream saw the mirror's manifest request");
                assertTrue(kiln.metric("kiln_mirror_misses_total", "upstream=docker.io") >= 3);
            } finally {
                podman(Map.of(), "rmi", "--all", "--force");
            }
        }
    }

    private ExecResult podman(Map<String, String> env, String... args) {
        List<String> command = new ArrayList<>(List.of("podman", "--storage-driver", "vfs",
                "--root", tmp.resolve("podman-root").toString(), "--runroot", tmp.resolve("podman-run").toString()));
        command.addAll(List.of(args));
        return Tools.run(command, env, 120);
    }
}
