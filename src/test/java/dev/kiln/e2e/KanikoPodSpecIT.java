package dev.kiln.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.app.kubernetes.BuildJobSpec;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnImage;
import dev.kiln.testkit.MotoServer;
import dev.kiln.testkit.Podman;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import dev.kiln.testkit.Tools;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kaniko's classic Pod spec ({@code src/test/resources/kaniko/classic-pod.yaml}) with only the image
 * swapped for Kiln's executor, played by podman as a kubelet would: the docker config from a
 * ConfigMap at {@code /kaniko/.docker/} is the only source of the registry's credentials (a
 * docker-registry with htpasswd), the context is a volume at {@code /workspace}, and nothing says
 * {@code build}, {@code --sandbox} or {@code --context}'s default. The first run builds and pushes;
 * a second run of the same spec must find every step in the cache repository and push the same
 * layers. Once under kaniko's usual securityContext (none: root with the runtime's default
 * capabilities), once under the one Kiln's gateway gives its in-place Jobs.
 */
class KanikoPodSpecIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String USER = "ci";
    private static final String PASSWORD = "pw-" + UUID.randomUUID();
    private static final Pattern STEP = Pattern.compile("STEP \\d+/\\d+: (RUN|COPY|ADD)\\b.*");

    @TempDir
    static Path work;
    static Podman podman;
    static Skopeo skopeo;
    static DockerRegistry registry;
    static String image;
    static Path workspace;
    static final List<Path> played = new ArrayList<>();
    static final List<String> prefixes = new ArrayList<>();

    @BeforeAll
    static void registryWithAuthAndAContext() throws IOException {
        assertTrue(Tools.isRoot(), "podman kube play runs the pods as root here (../shared/podman-notes.md)");
        podman = new Podman(work.resolve("podman"));
        skopeo = new Skopeo(work.resolve("skopeo"));
        registry = DockerRegistry.start(work.resolve("registry"), USER, PASSWORD);
        skopeo.run("copy", "--dest-tls-verify=false", "--dest-creds", USER + ":" + PASSWORD,
                TestImages.busybox(work.resolve("busybox")).reference(), "docker://" + registry.host() + "/library/busybox:1");
        image = KilnImage.executor();
        workspace = Files.createDirectories(work.resolve("workspace"));
        Files.writeString(workspace.resolve("app.txt"), "from the context\n");
        Files.writeString(workspace.resolve("Dockerfile"), """
                FROM %s/library/busybox:1
                RUN echo built in place > /hello.txt && mkdir -p /app
                COPY app.txt /app/
                RUN --mount=type=bind,source=app.txt,target=/mnt/bound.txt cp /mnt/bound.txt /app/through-bind.txt
                RUN --mount=type=cache,target=/var/cache/tool echo kept > /var/cache/tool/entry && ls /var/cache/tool > /app/cache-listing
                """.formatted(registry.host()));
    }

    @AfterAll
    static void tearDown() {
        for (Path yaml : played) {
            podman.down(yaml);
        }
        if (podman != null) {
            for (String volume : podman.tryRun("volume", "ls", "--format", "{{.Name}}").stdout().split("\n")) {
                if (prefixes.stream().anyMatch(volume::startsWith)) {
                    podman.removeVolume(volume);
                }
            }
            for (String secret : podman.tryRun("secret", "ls", "--format", "{{.Name}}").stdout().split("\n")) {
                if (prefixes.stream().anyMatch(secret::startsWith)) {
                    podman.tryRun("secret", "rm", secret);
                }
            }
        }
        if (registry != null) {
            registry.close();
        }
    }

    @Test
    void theClassicSpecVerbatimUnderKanikosUsualSecurityContext() throws IOException {
        twoRuns("kaniko", yaml -> yaml);
    }

    @Test
    void theClassicSpecUnderTheSecurityContextOfKilnsInPlaceJobs() throws IOException {
        twoRuns("jobprofile", yaml -> {
            List<HasMetadata> objects = new ArrayList<>();
            for (String document : yaml.split("(?m)^---\\s*$")) {
                if (!document.isBlank()) {
                    objects.add(Serialization.unmarshal(document, HasMetadata.class));
                }
            }
            Pod pod = (Pod) objects.stream().filter(Pod.class::isInstance).findFirst().orElseThrow();
            pod.getSpec().getContainers().get(0).setSecurityContext(BuildJobSpec.securityContext("in-place"));
            pod.getSpec().setSecurityContext(new io.fabric8.kubernetes.api.model.PodSecurityContextBuilder()
                    .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile().build());
            StringBuilder out = new StringBuilder();
            for (HasMetadata o : objects) {
                out.append(Serialization.asYaml(o));
            }
            return out.toString();
        });
    }

    /**
     * The s3 variant: the same spec with an {@code s3://} context, its credentials only in the AWS
     * credentials file of a Secret mounted at {@code /root/.aws/}. It needs the AWS default credential
     * chain and the moto stand-in of the cloud-creds work ({@code dev.kiln.testkit.MotoServer},
     * moto checking signatures and IAM).
     */
    @Test
    void theClassicSpecWithAnS3ContextAndTheMountedAwsCredentialsFile() throws Exception {
        Path tarGz = work.resolve("context.tar.gz");
        ExecResult tar = Tools.run(List.of("tar", "-czf", tarGz.toString(), "-C", workspace.toString(), "."), Map.of(), 60);
        assertEquals(0, tar.exitCode(), tar.output());
        Path motoDir = Files.createDirectories(work.resolve("moto"));
        try (MotoServer moto = MotoServer.start(motoDir, tarGz)) {
            String bucket = MotoServer.BUCKET;
            String key = MotoServer.KEY;
            String endpoint = moto.endpoint();
            String credentials = "[default]\naws_access_key_id = " + moto.accessKeyId
                    + "\naws_secret_access_key = " + moto.secretAccessKey + "\n";
            twoRuns("s3", "/kaniko/classic-pod-s3.yaml", (prefix, yaml) -> {
                podman.kubeSecret(prefix + "aws-secret", Map.of("credentials", credentials), work.resolve("secrets"));
                return yaml.replace("${BUCKET}", bucket).replace("${KEY}", key).replace("${S3_ENDPOINT}", endpoint)
                        .replace("secretName: aws-secret", "secretName: " + prefix + "aws-secret")
                        .replace("name: aws-secret\n", "name: " + prefix + "aws-secret\n");
            });
        }
    }

    private void twoRuns(String variant, java.util.function.UnaryOperator<String> securityContext) throws IOException {
        twoRuns(variant, "/kaniko/classic-pod.yaml", (prefix, yaml) -> securityContext.apply(yaml));
    }

    /** {@code -Dkiln.bench.rounds=N} (bench/kaniko-classic.sh) repeats the two runs with fresh repositories. */
    private void twoRuns(String variant, String resource, java.util.function.BinaryOperator<String> fill) throws IOException {
        for (int round = Integer.getInteger("kiln.bench.rounds", 1); round > 0; round--) {
            twoFreshRuns(variant, resource, fill);
        }
    }

    private void twoFreshRuns(String variant, String resource, java.util.function.BinaryOperator<String> fill) throws IOException {
        String id = UUID.randomUUID().toString().substring(0, 6);
        String prefix = "kk-" + variant + "-" + id + "-";
        prefixes.add(prefix);
        String repo = variant + "-" + id + "/app";
        String spec = fill.apply(prefix, classicSpec(resource, prefix, repo));

        long t0 = System.nanoTime();
        String first = play(prefix, spec, "first");
        double firstSeconds = (System.nanoTime() - t0) / 1e9;
        for (String line : first.lines().filter(l -> STEP.matcher(l).find()).toList()) {
            assertFalse(line.contains("(cached,"), "the first run builds every step:\n" + first);
        }
        Path unpacked = pullAndUnpack(repo, work.resolve(prefix + "first"));
        assertEquals("built in place\n", Files.readString(unpacked.resolve("hello.txt")), first);
        assertEquals("from the context\n", Files.readString(unpacked.resolve("app/app.txt")));
        assertEquals("from the context\n", Files.readString(unpacked.resolve("app/through-bind.txt")), "RUN --mount=type=bind in place");
        assertEquals("entry\n", Files.readString(unpacked.resolve("app/cache-listing")), "RUN --mount=type=cache in place");
        assertFalse(Files.exists(unpacked.resolve("mnt/bound.txt")), "a bind mount's file is not in the image");
        assertFalse(Files.exists(unpacked.resolve("var/cache/tool/entry")), "a cache mount's files are not in the image");
        assertFalse(Files.exists(unpacked.resolve("kaniko")), "nothing of /kaniko is in the image");
        assertFalse(Files.exists(unpacked.resolve("workspace/Dockerfile")), "nothing of /workspace is in the image");
        List<String> firstLayers = layers(repo);

        long t1 = System.nanoTime();
        String second = play(prefix, spec, "second");
        double secondSeconds = (System.nanoTime() - t1) / 1e9;
        List<String> steps = second.lines().filter(l -> STEP.matcher(l).find()).toList();
        assertEquals(4, steps.size(), "the second run's steps:\n" + second);
        for (String line : steps) {
            assertTrue(line.contains("(cached,"), "the second run finds every step in --cache-repo: " + line + "\n" + second);
        }
        assertEquals(firstLayers, layers(repo), "the second run pushes the same layers");
        System.err.printf("KanikoPodSpecIT %s: first run %.1f s, all-cached run %.1f s (kube play to exit)%n", variant,
                firstSeconds, secondSeconds);
    }

    /** The resource with the image, registry, credentials and workspace filled in, and the run's names. */
    private static String classicSpec(String resource, String prefix, String repo) throws IOException {
        String yaml;
        try (InputStream in = KanikoPodSpecIT.class.getResourceAsStream(resource)) {
            yaml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        String auth = Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8));
        return yaml.replace("${IMAGE}", image)
                .replace("${REGISTRY}/team/app", "${REGISTRY}/" + repo)
                .replace("${REGISTRY}/team/cache", "${REGISTRY}/" + repo.replace("/app", "/cache"))
                .replace("${REGISTRY}", registry.host())
                .replace("${CONFIG_JSON}", "{\"auths\": {\"" + registry.host() + "\": {\"auth\": \"" + auth + "\"}}}")
                .replace("${WORKSPACE}", workspace.toString())
                .replace("name: docker-config", "name: " + prefix + "docker-config")
                .replace("metadata:\n  name: kaniko\n", "metadata:\n  name: " + prefix + "kaniko\n");
    }

    /** Plays the spec, waits for the container to end, and returns its log; it must have exited 0. */
    private static String play(String prefix, String spec, String run) throws IOException {
        Path yaml = work.resolve(prefix + run + ".yaml");
        Files.writeString(yaml, spec);
        if (!played.isEmpty() && played.get(played.size() - 1).getFileName().toString().startsWith(prefix)) {
            podman.down(played.get(played.size() - 1));
        }
        played.add(yaml);
        podman.play(yaml);
        String container = prefix + "kaniko-kaniko";
        long deadline = System.nanoTime() + 300_000_000_000L;
        Podman.State state = podman.state(container);
        // the container's CPU time, read from its cgroup while it exists (it goes with the container)
        String cgroup = podman.tryRun("inspect", "--format", "{{.State.CgroupPath}}", container).stdout().trim();
        Path cpuStat = Files.exists(Path.of("/sys/fs/cgroup/cgroup.controllers")) ? Path.of("/sys/fs/cgroup" + cgroup, "cpu.stat")
                : Path.of("/sys/fs/cgroup/cpuacct" + cgroup, "cpuacct.usage");
        long cpuMicros = -1;
        while (!state.ended() && System.nanoTime() < deadline) {
            cpuMicros = Math.max(cpuMicros, cpuMicros(cpuStat));
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted");
            }
            state = podman.state(container);
        }
        String log = podman.logs(container, false);
        assertTrue(state.ended(), "the " + run + " run ended within 5 minutes (" + state + "):\n" + log);
        assertEquals(0, state.exitCode(), "the " + run + " run exits 0:\n" + log);
        String startedAt = podman.tryRun("inspect", "--format", "{{.State.StartedAt}}", container).stdout();
        String firstLine = podman.logs(container, true).lines().findFirst().orElse("");
        String finishedAt = podman.tryRun("inspect", "--format", "{{.State.FinishedAt}}", container).stdout();
        System.err.printf("KanikoPodSpecIT bench %s %s: container %.2f s, first log line after %.2f s, CPU %s s%n", prefix, run,
                seconds(startedAt, finishedAt), seconds(startedAt, firstLine),
                cpuMicros < 0 ? "n/a" : String.format("%.2f", cpuMicros / 1e6));
        return log;
    }

    /** cgroup v2's usage_usec, or v1's cpuacct.usage (nanoseconds). */
    private static long cpuMicros(Path cpuStat) {
        try {
            if (cpuStat.getFileName().toString().equals("cpuacct.usage")) {
                return Long.parseLong(Files.readString(cpuStat).trim()) / 1000;
            }
            for (String line : Files.readAllLines(cpuStat)) {
                if (line.startsWith("usage_usec ")) {
                    return Long.parseLong(line.substring(11).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // not there (yet, or any more): no reading
        }
        return -1;
    }

    private static final Pattern TIME = Pattern.compile("(\\d{4}-\\d{2}-\\d{2})[T ](\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?)");

    /** Seconds between the first timestamps in two texts, podman's and its logs' (both UTC here). */
    private static double seconds(String from, String to) {
        java.util.regex.Matcher a = TIME.matcher(from);
        java.util.regex.Matcher b = TIME.matcher(to);
        if (!a.find() || !b.find()) {
            return Double.NaN;
        }
        java.time.LocalDateTime start = java.time.LocalDateTime.parse(a.group(1) + "T" + a.group(2));
        java.time.LocalDateTime end = java.time.LocalDateTime.parse(b.group(1) + "T" + b.group(2));
        return java.time.Duration.between(start, end).toNanos() / 1e9;
    }

    private static List<String> layers(String repo) throws IOException {
        ExecResult inspect = skopeo.run("inspect", "--tls-verify=false", "--creds", USER + ":" + PASSWORD,
                "docker://" + registry.host() + "/" + repo + ":1");
        List<String> layers = new ArrayList<>();
        JSON.readTree(inspect.stdout()).path("Layers").forEach(l -> layers.add(l.asText()));
        return layers;
    }

    /** The pushed image, copied out with skopeo and its layers unpacked in order with tar. */
    private static Path pullAndUnpack(String repo, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path layout = dir.resolve("layout");
        skopeo.run("copy", "--src-tls-verify=false", "--src-creds", USER + ":" + PASSWORD,
                "docker://" + registry.host() + "/" + repo + ":1", "oci:" + layout + ":x");
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        String manifestDigest = index.path("manifests").get(0).path("digest").asText();
        JsonNode manifest = JSON.readTree(layout.resolve("blobs/sha256/" + manifestDigest.substring(7)).toFile());
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        for (JsonNode layer : manifest.path("layers")) {
            Path blob = layout.resolve("blobs/sha256/" + layer.path("digest").asText().substring(7));
            ExecResult tar = Tools.run(List.of("tar", "-xzf", blob.toString(), "-C", rootfs.toString()), Map.of(), 120);
            assertEquals(0, tar.exitCode(), tar.output());
        }
        return rootfs;
    }
}
