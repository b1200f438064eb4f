package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.app.cli.BuildCommand;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.FlatImage;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.TestImages;
import dev.kiln.testkit.Tools;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Kiln's executor as a Kubernetes pod runs it. The executor image is built by {@code kiln build}
 * from {@code scripts/make-executor-root} and the Dockerfile of docs/executor.md, unpacked into a
 * directory with a busybox userland beside {@code /kiln}, and entered with {@code unshare}
 * (mount+pid) and {@code chroot}: {@code /proc}, {@code /sys}, a minimal {@code /dev}, the context
 * and an output dir as volumes, {@code /etc/resolv.conf} and {@code /etc/hosts} bind-mounted,
 * entrypoint and environment from the image config, the host's network (so the registry on
 * 127.0.0.1 is reachable). Inside, an in-place build FROM an image whose {@code /lib},
 * {@code /lib64} and {@code /usr/lib} hold junk named like glibc: the JVM must not care.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class InPlaceExecutorIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** What a pod gets before the entrypoint runs; the script's arguments are the rootfs and the command. */
    private static final String POD = """
            set -e
            c="$1"; shift
            mount --bind "$c" "$c"
            mount -t proc proc "$c/proc"
            mount -t sysfs -o ro sysfs "$c/sys"
            mount -t tmpfs -o mode=0755 tmpfs "$c/dev"
            for d in null zero random urandom tty; do touch "$c/dev/$d"; mount --bind "/dev/$d" "$c/dev/$d"; done
            mount --bind "$KILN_IT_WORKSPACE" "$c/workspace"
            mount --bind "$KILN_IT_OUT" "$c/out"
            mount --bind /etc/resolv.conf "$c/etc/resolv.conf"
            mount --bind /etc/hosts "$c/etc/hosts"
            unset KILN_IT_WORKSPACE KILN_IT_OUT
            exec chroot "$c" "$@"
            """;
    private static final List<String> JUNK = List.of("lib/ld-linux-x86-64.so.2", "lib/libc.so.6",
            "lib/x86_64-linux-gnu/libc.so.6", "lib/x86_64-linux-gnu/libz.so.1", "lib/x86_64-linux-gnu/libm.so.6",
            "lib64/ld-linux-x86-64.so.2", "usr/lib/libc.so.6", "usr/lib/x86_64-linux-gnu/libc.so.6",
            "usr/lib/x86_64-linux-gnu/libstdc++.so.6", "etc/ld.so.cache");

    @TempDir
    static Path work;
    static DockerRegistry registry;
    static Skopeo skopeo;
    static Path container;
    static List<String> entrypoint;
    static Map<String, String> podEnv;
    static String base;
    static Path workspace;
    static Path out;

    @BeforeAll
    static void executorImageAndAJunkBase() throws Exception {
        assertTrue(Tools.isRoot(), "the pod is made with unshare --mount and chroot, which need root");
        Tools.require("unshare", "util-linux");
        Tools.require("chroot", "coreutils");
        Tools.require("jlink", "openjdk-17-jdk-headless");
        TestImages.requireBusybox();
        skopeo = new Skopeo(work.resolve("skopeo"));
        registry = DockerRegistry.start(work.resolve("registry"));

        long t0 = System.nanoTime();
        Path executorRoot = work.resolve("executor-root");
        ExecResult assembled = Tools.run(List.of("scripts/make-executor-root", executorRoot.toString()), Map.of(), 600);
        assertEquals(0, assembled.exitCode(), assembled.output());
        String dockerfile = Files.readString(executorRoot.resolve("Dockerfile"));
        assertTrue(Files.readString(Path.of("docs/executor.md")).contains(dockerfile),
                "docs/executor.md shows the Dockerfile scripts/make-executor-root writes:\n" + dockerfile);
        System.err.printf("InPlaceExecutorIT: /kiln assembled in %.1f s, %d bytes%n", (System.nanoTime() - t0) / 1e9,
                size(executorRoot.resolve("kiln")));

        long t1 = System.nanoTime();
        String executor = registry.host() + "/kiln-executor:test";
        build("-c", executorRoot.toString(), "-d", executor);
        System.err.printf("InPlaceExecutorIT: executor image built by kiln build in %.1f s%n", (System.nanoTime() - t1) / 1e9);

        container = work.resolve("pod-rootfs");
        JsonNode config = unpack(executor, container);
        entrypoint = new ArrayList<>();
        config.at("/config/Entrypoint").forEach(arg -> entrypoint.add(arg.asText()));
        // the executor flavour: kaniko's arguments with no subcommand (KilnMain.withImplicitBuild)
        assertEquals(List.of("/kiln/bin/kiln"), entrypoint);
        podEnv = new LinkedHashMap<>();
        config.at("/config/Env").forEach(e -> podEnv.put(e.asText().substring(0, e.asText().indexOf('=')),
                e.asText().substring(e.asText().indexOf('=') + 1)));
        assertEquals("1", podEnv.get("KILN_EXECUTOR_CONTAINER"), podEnv.toString());
        // the debug image's userland, which the first in-place stage deletes as kaniko's does
        Files.createDirectories(container.resolve("bin"));
        Files.copy(TestImages.BUSYBOX, container.resolve("bin/busybox"));
        Files.createSymbolicLink(container.resolve("bin/sh"), Path.of("busybox"));
        Files.writeString(container.resolve("bin/pod-only"), "the pod's own file, which no stage may see\n");
        for (String dir : List.of("proc", "sys", "dev", "etc", "workspace", "out")) {
            Files.createDirectories(container.resolve(dir));
        }
        Files.createFile(container.resolve("etc/resolv.conf"));
        Files.createFile(container.resolve("etc/hosts"));

        base = registry.host() + "/junk-base:1";
        Path baseContext = work.resolve("junk-base");
        Path rootfs = Files.createDirectories(baseContext.resolve("rootfs"));
        Files.createDirectories(rootfs.resolve("bin"));
        Files.copy(TestImages.BUSYBOX, rootfs.resolve("bin/busybox"));
        for (String applet : List.of("sh", "echo", "ls", "mkdir", "rm", "id", "cat")) {
            Files.createSymbolicLink(rootfs.resolve("bin/" + applet), Path.of("busybox"));
        }
        for (String junk : JUNK) {
            Files.createDirectories(rootfs.resolve(junk).getParent());
            Files.writeString(rootfs.resolve(junk), "not an ELF file: " + junk + "\n");
        }
        Files.createDirectories(rootfs.resolve("tmp"));
        Files.setAttribute(rootfs.resolve("tmp"), "unix:mode", 01777);
        Files.writeString(rootfs.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n");
        Files.writeString(rootfs.resolve("etc/group"), "root:x:0:\napp:x:1000:\n");
        Files.writeString(baseContext.resolve("Dockerfile"), "FROM scratch\nCOPY rootfs/ /\nCMD [\"sh\"]\n");
        build("-c", baseContext.toString(), "-d", base);

        workspace = Files.createDirectories(work.resolve("workspace"));
        out = Files.createDirectories(work.resolve("out"));
        Files.writeString(workspace.resolve("hello.txt"), "hello from the context\n");
        Files.writeString(workspace.resolve("Dockerfile"), """
                FROM %1$s AS tools
                RUN echo built-in-tools > /tools.txt && ls /lib > /lib-list.txt

                FROM %1$s AS other
                RUN echo other > /other.txt

                FROM tools
                COPY --from=other /other.txt /from-other/
                COPY hello.txt /app/hello.txt
                RUN test ! -e /other.txt && test ! -e /bin/pod-only && test -e /tools.txt
                RUN mkdir -p /app/data && echo ran > /app/data/ran.txt && rm /lib/libc.so.6
                USER app
                RUN echo mine > /tmp/owned.txt && id -u > /tmp/uid.txt
                """.formatted(base));
    }

    @AfterAll
    static void stop() {
        if (registry != null) {
            registry.close();
        }
    }

    @Test
    @Order(1)
    void refusesOutsideAMarkedExecutorContainerAndTouchesNothing() {
        Map<String, String> unmarked = new LinkedHashMap<>(podEnv);
        unmarked.remove("KILN_EXECUTOR_CONTAINER");

        // with no marker the image is not a kaniko drop-in, so the subcommand is named
        ExecResult refused = pod(unmarked, "build", "--sandbox", "in-place", "-c", "dir:///workspace", "--no-push");

        assertEquals(1, refused.exitCode(), refused.output());
        assertTrue(refused.stderr().contains("error: --sandbox in-place unpacks the base image over this machine's own /")
                && refused.stderr().contains("KILN_EXECUTOR_CONTAINER=1") && refused.stderr().contains("--force"),
                refused.output());
        assertTrue(Files.isRegularFile(container.resolve("bin/busybox"), LinkOption.NOFOLLOW_LINKS),
                "the refused build deleted the container's own files");
    }

    /**
     * Three stages take {@code /} in turn: {@code tools}, then {@code other} (which must not leave
     * its file behind), then the last, FROM {@code tools} again, which reads {@code other} with
     * COPY --from after {@code other} lost {@code /}.
     */
    @Test
    @Order(2)
    void buildsInPlaceFromAnImageWithJunkLibrariesAndLeavesKilnOutOfTheImage() throws Exception {
        String image = registry.host() + "/app:1";
        long t0 = System.nanoTime();
        ExecResult built = pod(podEnv, "--sandbox", "in-place", "-c", "dir:///workspace", "-d", image,
                "--insecure-registry", registry.host(), "--oci-layout-path", "/out/layout", "--digest-file", "/out/digest",
                "--cleanup");
        System.err.printf("InPlaceExecutorIT: in-place build in the pod (JVM start to push) took %.1f s%n",
                (System.nanoTime() - t0) / 1e9);
        System.err.print(built.stderr());
        assertEquals(0, built.exitCode(), built.output());
        assertTrue(built.stderr().contains("[tools] unpacked the root filesystem over /"), built.stderr());

        FlatImage result = copy(image);
        assertEquals(Files.readString(out.resolve("digest")), manifestDigest(image));
        assertEquals(result.nodes(), FlatImage.fromLayout(out.resolve("layout")).nodes(), "the OCI layout is the pushed image");
        assertTheApplicationImage(result, "hello from the context\n");

        assertEquals(new TreeSet<>(List.of("dev", "etc", "etc/hosts", "etc/resolv.conf", "kiln", "out", "proc", "sys",
                "workspace")), topOfContainer(), "--cleanup leaves only what the pod brought");
        assertTrue(Files.isExecutable(container.resolve("kiln/bin/kiln")));
    }

    /**
     * A rebuild with the layer cache after the context changed: the first two stages are all
     * hits and never take {@code /}; the last stage's COPY misses, so {@code /} gets its base and
     * the cached layers of the steps before (from the cache, never run), and the steps after run.
     */
    @Test
    @Order(3)
    void aCachedRebuildUnpacksCachedLayersOverRootOnlyWhereAStepMustRun() throws Exception {
        String image = registry.host() + "/app:2";
        String[] args = {"--sandbox", "in-place", "-c", "dir:///workspace", "-d", image, "--insecure-registry",
                registry.host(), "--cache", "--cache-repo", registry.host() + "/cache/app", "--cleanup"};
        ExecResult first = pod(podEnv, args);
        assertEquals(0, first.exitCode(), first.output());
        Files.writeString(workspace.resolve("hello.txt"), "hello again\n");

        ExecResult second = pod(podEnv, args);
        System.err.print(second.stderr());

        assertEquals(0, second.exitCode(), second.output());
        assertFalse(second.stderr().contains("[tools] unpacked") || second.stderr().contains("[other] unpacked the root filesystem over /"),
                second.stderr());
        assertTrue(second.stderr().contains("[other] unpacked the root filesystem into the build dir"), second.stderr());
        assertTrue(second.stderr().contains("[2] unpacked the root filesystem over /"), second.stderr());
        assertTrue(second.stderr().contains("RUN echo built-in-tools > /tools.txt && ls /lib > /lib-list.txt (cached"),
                second.stderr());
        assertTheApplicationImage(copy(image), "hello again\n");
    }

    private static void assertTheApplicationImage(FlatImage result, String hello) {
        FlatImage baseImage = copy(base);
        Set<String> expected = new TreeSet<>(baseImage.nodes().keySet());
        expected.remove("lib/libc.so.6");
        expected.addAll(List.of("tools.txt", "lib-list.txt", "from-other", "from-other/other.txt", "app", "app/hello.txt",
                "app/data", "app/data/ran.txt", "tmp/owned.txt", "tmp/uid.txt"));
        assertEquals(expected, new TreeSet<>(result.nodes().keySet()), "exactly the base's files and the steps' changes:"
                + " nothing of /kiln, /proc, /workspace, /out or the build dir, nor the other stage's /other.txt");
        String libs = String.join("\n", new TreeSet<>(baseImage.nodes().keySet().stream()
                .filter(p -> p.startsWith("lib/") && p.indexOf('/', 4) < 0).map(p -> p.substring(4)).toList())) + "\n";
        assertContent(result, "lib-list.txt", libs);
        assertContent(result, "tools.txt", "built-in-tools\n");
        assertContent(result, "from-other/other.txt", "other\n");
        assertContent(result, "app/hello.txt", hello);
        assertContent(result, "tmp/uid.txt", "1000\n");
        assertEquals(1000, result.node("tmp/owned.txt").uid());
        assertEquals("app", result.config().at("/config/User").asText());
    }

    private static void assertContent(FlatImage image, String path, String content) {
        FlatImage.Node node = image.node(path);
        assertNotEquals(null, node, path + " is missing");
        assertEquals(TestImages.sha256(content.getBytes(StandardCharsets.UTF_8)), node.digest(), path);
    }

    /** The container's paths outside {@code /kiln}, after the pod is gone (mount points stay as directories). */
    private static Set<String> topOfContainer() throws IOException {
        Set<String> paths = new TreeSet<>();
        try (Stream<Path> walk = Files.walk(container)) {
            walk.filter(p -> !p.equals(container)).map(p -> container.relativize(p).toString())
                    .filter(p -> !p.startsWith("kiln/") && !p.startsWith("out/") && !p.startsWith("workspace/"))
                    .forEach(paths::add);
        }
        return paths;
    }

    /** Runs the image's entrypoint with {@code args} in a fresh pod (mount and pid namespaces) on {@link #container}. */
    private static ExecResult pod(Map<String, String> env, String... args) {
        List<String> command = new ArrayList<>(List.of("env", "-i"));
        env.forEach((k, v) -> command.add(k + "=" + v));
        command.addAll(List.of("KILN_IT_WORKSPACE=" + workspace, "KILN_IT_OUT=" + out,
                "unshare", "--mount", "--pid", "--fork", "--propagation", "private", "/bin/sh", "-c", POD, "pod",
                container.toString()));
        command.addAll(entrypoint);
        command.addAll(List.of(args));
        return Tools.run(command, Map.of(), 600);
    }

    private static String build(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--insecure-registry", registry.host()));
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        int exit = new CommandLine(new BuildCommand(new PrintStream(log, true, StandardCharsets.UTF_8)))
                .execute(all.toArray(String[]::new));
        String text = log.toString(StandardCharsets.UTF_8);
        assertEquals(0, exit, text);
        return text;
    }

    /** Unpacks an image's layers into {@code dir} with GNU tar, as a container runtime would; returns its config. */
    private static JsonNode unpack(String image, Path dir) throws IOException {
        Path layout = work.resolve("layout-" + System.nanoTime());
        skopeo.run("copy", "--src-tls-verify=false", "docker://" + image, "oci:" + layout + ":image");
        Path blobs = layout.resolve("blobs/sha256");
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        JsonNode manifest = JSON.readTree(blobs.resolve(hex(index.at("/manifests/0/digest").asText())).toFile());
        Files.createDirectories(dir);
        for (JsonNode layer : manifest.get("layers")) {
            ExecResult tar = Tools.run(List.of("tar", "-xzf", blobs.resolve(hex(layer.get("digest").asText())).toString(),
                    "-C", dir.toString()), Map.of(), 300);
            assertEquals(0, tar.exitCode(), tar.output());
        }
        return JSON.readTree(blobs.resolve(hex(manifest.at("/config/digest").asText())).toFile());
    }

    private static FlatImage copy(String image) {
        Path dir = work.resolve("copy-" + System.nanoTime());
        skopeo.run("copy", "--src-tls-verify=false", "docker://" + image, "dir:" + dir);
        return FlatImage.fromDirCopy(dir);
    }

    private static String manifestDigest(String image) throws IOException {
        return JSON.readTree(skopeo.run("inspect", "--tls-verify=false", "docker://" + image).stdout()).get("Digest").asText();
    }

    private static String hex(String digest) {
        return digest.substring(digest.indexOf(':') + 1);
    }

    private static long size(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).mapToLong(p -> p.toFile().length()).sum();
        }
    }
}
