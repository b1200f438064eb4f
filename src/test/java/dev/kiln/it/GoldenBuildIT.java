package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.kiln.testkit.Buildah;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.FlatImage;
import dev.kiln.testkit.GitHttpServer;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Skopeo;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Golden tests: each Dockerfile under {@code src/test/resources/golden/<case>} is built by the
 * packaged {@code kiln build} and by Debian's {@code buildah bud --isolation chroot}, both from
 * the same base images (scripts/make-base-images) in a real docker-registry, both pushed there;
 * then both images are pulled with skopeo and must have the same flattened filesystem (paths,
 * types, modes, owners, content, link targets, hardlink groups) and the same runtime config.
 *
 * <p>What is left out of the comparison, and why: times (mtime, {@code created}, history), since
 * no two builds agree on them; history text and layer count, because buildah with
 * {@code --layers=false} commits one layer per stage and Kiln one per step; the label
 * {@code io.buildah.version}, which buildah stamps on its own images; and the empty mount targets
 * buildah's chroot isolation leaves behind ({@link #BUILDAH_MOUNT_TARGETS}).
 */
class GoldenBuildIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path CASES = Path.of("src/test/resources/golden");

    /**
     * Buildah's chroot isolation creates these as empty files and directories to bind-mount
     * over during RUN, and commits them when the base image did not have them; BuildKit and Kiln
     * leave no trace. Ignored only where Kiln's image has no such path and buildah's is empty.
     */
    private static final Set<String> BUILDAH_MOUNT_TARGETS = Set.of("etc/hosts", "etc/hostname", "etc/resolv.conf", "run");
    private static final Set<String> BUILDAH_LABELS = Set.of("io.buildah.version");

    private static Path work;
    private static DockerRegistry registry;
    private static Buildah buildah;
    private static Skopeo skopeo;
    private static HttpServer http;
    private static GitHttpServer git;
    private static final Map<String, String> timings = java.util.Collections.synchronizedMap(new java.util.LinkedHashMap<>());

    /**
     * One golden case: the directory under golden/, and how it is built. {@code buildahDockerfile}
     * names an equivalent Dockerfile for buildah where buildah 1.28 lacks the syntax (heredocs);
     * {@code parent} is a case built first (its images are this case's bases); {@code ignoreContent}
     * are paths whose bytes legitimately differ between two runs of the same command;
     * {@code buildahArtefacts} are more empty paths buildah leaves behind (see {@link #BUILDAH_MOUNT_TARGETS});
     * {@code documented} are runtime-config fields buildah 1.28 cannot write ({@code Object.Field} to
     * BuildKit's documented JSON value): Kiln's image must hold that value, which is then left out of
     * the comparison with buildah's.
     */
    record Case(String name, String buildahDockerfile, List<String> buildArgs, String target, String parent,
                Predicate<String> ignoreContent, Set<String> buildahArtefacts, Map<String, String> documented) {
        Case(String name, String buildahDockerfile, List<String> buildArgs, String target, String parent,
             Predicate<String> ignoreContent, Set<String> buildahArtefacts) {
            this(name, buildahDockerfile, buildArgs, target, parent, ignoreContent, buildahArtefacts, Map.of());
        }

        static Case of(String name) {
            return new Case(name, "Dockerfile", List.of(), null, null, p -> false, Set.of());
        }

        Case documented(String field, String json) {
            Map<String, String> more = new java.util.TreeMap<>(documented);
            more.put(field, json);
            return new Case(name, buildahDockerfile, buildArgs, target, parent, ignoreContent, buildahArtefacts, more);
        }

        Case args(String... args) {
            return new Case(name, buildahDockerfile, List.of(args), target, parent, ignoreContent, buildahArtefacts);
        }

        Case target(String stage) {
            return new Case(name, buildahDockerfile, buildArgs, stage, parent, ignoreContent, buildahArtefacts);
        }

        Case buildahDockerfile(String file) {
            return new Case(name, file, buildArgs, target, parent, ignoreContent, buildahArtefacts);
        }

        Case parent(String parentCase) {
            return new Case(name, buildahDockerfile, buildArgs, target, parentCase, ignoreContent, buildahArtefacts);
        }

        Case ignoreContent(Set<String> paths) {
            return new Case(name, buildahDockerfile, buildArgs, target, parent, paths::contains, buildahArtefacts);
        }

        Case buildahArtefacts(String... paths) {
            return new Case(name, buildahDockerfile, buildArgs, target, parent, ignoreContent, Set.of(paths));
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** Every case, or those named in {@code -Dgolden.cases=a,b} (to rerun a few while fixing them). */
    static Stream<Case> cases() {
        String only = System.getProperty("golden.cases", "");
        return allCases().filter(c -> only.isBlank() || Arrays.asList(only.split(",")).contains(c.name()));
    }

    private static Stream<Case> allCases() {
        return Stream.of(
                Case.of("env-expansion").args("NAME=golden"),
                Case.of("meta-arg").args("TAG=latest"),
                Case.of("build-args").args("VERSION=1.2.3", "MODE=release"),
                Case.of("multi-stage"),
                Case.of("target").target("middle"),
                Case.of("workdir"),
                Case.of("user"),
                Case.of("copy-chown"),
                Case.of("copy-chmod"),
                Case.of("wildcards"),
                Case.of("dockerignore"),
                Case.of("copy-dirs"),
                Case.of("add-archives"),
                Case.of("add-url").args("HTTP={http}"),
                // buildah 1.28 predates heredoc support: its reference is the same steps written out.
                Case.of("heredoc").buildahDockerfile("Dockerfile.buildah"),
                // buildah 1.28 ignores SHELL for shell-form CMD/ENTRYPOINT: its reference writes BuildKit's result out.
                Case.of("shell").buildahDockerfile("Dockerfile.buildah"),
                Case.of("entrypoint-exec"),
                Case.of("entrypoint-shell"),
                Case.of("entrypoint-reset"),
                Case.of("metadata"),
                Case.of("healthcheck-inherit"),
                Case.of("onbuild-child").parent("onbuild-base").args("BASE={registry}/golden/onbuild-base-{tool}"),
                Case.of("whiteouts"),
                Case.of("opaque"),
                Case.of("links"),
                // buildah 1.28 removes the mount targets after RUN but not the parents it made for them
                // (fixed in buildah 1.41); Kiln, like BuildKit for these, leaves nothing.
                Case.of("run-mounts").buildahArtefacts("mnt", "var", "var/cache"),
                Case.of("file-perms"),
                Case.of("copy-from-owner"),
                // buildah 1.28 discards RUN changes below an earlier VOLUME (the classic builder's way), BuildKit keeps them.
                Case.of("volume-changes").buildahDockerfile("Dockerfile.buildah"),
                Case.of("exec-form"),
                Case.of("odd-names"),
                Case.of("type-changes"),
                // buildah 1.28 keeps EXPOSE 8080-8082 as one key; BuildKit writes one per port.
                Case.of("add-chown").buildahDockerfile("Dockerfile.buildah"),
                Case.of("context-hardlinks"),
                Case.of("add-compressed"),
                // buildah 1.28 has no heredocs: its reference copies the files BuildKit's heredoc semantics write.
                Case.of("heredoc-stdin").buildahDockerfile("Dockerfile.buildah"),
                Case.of("user-groups"),
                // buildah 1.28 ignored "# escape=`" in this file; its reference writes BuildKit's result.
                Case.of("directives").buildahDockerfile("Dockerfile.buildah"),
                Case.of("arg-platform"),
                Case.of("onbuild-chain"),
                // buildah 1.28 may not know COPY --link; the files are those of a plain COPY.
                Case.of("copy-link").buildahDockerfile("Dockerfile.buildah"),
                // buildah 1.28 has no --exclude nor --parents: the references write BuildKit's result out.
                Case.of("copy-exclude").buildahDockerfile("Dockerfile.buildah"),
                Case.of("copy-parents").buildahDockerfile("Dockerfile.buildah"),
                Case.of("add-checksum").args("HTTP={http}").buildahDockerfile("Dockerfile.buildah"),
                Case.of("add-git").args("GIT={git}").buildahDockerfile("Dockerfile.buildah"),
                Case.of("run-network").buildahDockerfile("Dockerfile.buildah"),
                // buildah 1.28 has no HEALTHCHECK --start-interval: BuildKit records it in nanoseconds.
                Case.of("healthcheck-start-interval").buildahDockerfile("Dockerfile.buildah")
                        .documented("Healthcheck.StartInterval", "2000000000"),
                // dpkg's and apt's logs record the time of the run.
                Case.of("apt").ignoreContent(Set.of("var/log/apt/history.log", "var/log/apt/term.log", "var/log/dpkg.log")));
    }

    @BeforeAll
    static void startRegistryBaseImagesBuildahAndHttp() throws Exception {
        long t0 = System.nanoTime();
        KilnProcess.jar();
        work = Files.createTempDirectory("kiln-golden-");
        registry = DockerRegistry.start(work.resolve("registry"));
        Tools.require("skopeo", "skopeo");
        Tools.require("debootstrap", "debootstrap");
        // Docker Hub names (library/…) so that FROM busybox resolves the same way in both builders.
        ExecResult bases = Tools.run(List.of("scripts/make-base-images", registry.host() + "/library"), Map.of(), 900);
        assertTrue(bases.ok(), "scripts/make-base-images failed:\n" + bases.output());
        skopeo = new Skopeo(work.resolve("skopeo"));
        buildah = Buildah.start(work.resolve("buildah"), registry.host());
        Path served = Files.createDirectories(work.resolve("http"));
        Files.writeString(served.resolve("remote.txt"), "remote content\n");
        GoldenContexts.makeArchive(work, served.resolve("archive.tar.gz"));
        http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        http.createContext("/", exchange -> {
            Path file = served.resolve(exchange.getRequestURI().getPath().substring(1)).normalize();
            if (!file.startsWith(served) || !Files.isRegularFile(file)) {
                exchange.sendResponseHeaders(404, -1);
            } else {
                exchange.sendResponseHeaders(200, Files.size(file));
                try (OutputStream out = exchange.getResponseBody()) {
                    Files.copy(file, out);
                }
            }
            exchange.close();
        });
        http.start();
        git = GitHttpServer.serve(GoldenContexts.gitRepositories(work), false, work, null, null);
        System.err.printf("golden setup (registry, base images, buildah on %s): %.1fs%n", buildah.storageDriver(),
                (System.nanoTime() - t0) / 1e9);
    }

    @AfterAll
    static void stopEverything() {
        if (http != null) {
            http.stop(0);
        }
        if (git != null) {
            git.close();
        }
        if (buildah != null) {
            buildah.close();
        }
        if (registry != null) {
            registry.close();
        }
        timings.forEach((name, line) -> System.err.println("golden " + name + ": " + line));
        if (work != null && !Boolean.getBoolean("golden.keep")) { // -Dgolden.keep=true leaves contexts and pulled images to look at
            Tools.run(List.of("rm", "-rf", work.toString()), Map.of(), 120);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void kilnBuildsWhatBuildahBuilds(Case c) throws Exception {
        if (c.parent() != null) {
            buildAndCompare(Case.of(c.parent()));
        }
        buildAndCompare(c);
    }

    private void buildAndCompare(Case c) throws Exception {
        Path context = GoldenContexts.prepare(CASES, work, c.name());
        String kilnImage = registry.host() + "/golden/" + c.name() + "-kiln";
        String buildahImage = registry.host() + "/golden/" + c.name() + "-buildah";
        long t0 = System.nanoTime();
        CompletableFuture<Double> kiln = CompletableFuture.supplyAsync(() -> timed(() -> kilnBuild(c, context, kilnImage)));
        double buildahSeconds = timed(() -> {
            buildah.bud(context, context.resolve(c.buildahDockerfile()), buildahImage, buildahArgs(c));
            buildah.push(buildahImage);
        });
        double kilnSeconds;
        try {
            kilnSeconds = kiln.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof Error error) {
                throw error; // the assertion that failed in kiln's build, with its output
            }
            throw e;
        }
        FlatImage mine = pull(kilnImage, c.name() + "-kiln");
        FlatImage theirs = pull(buildahImage, c.name() + "-buildah");
        timings.put(c.name(), String.format("kiln %.1fs, buildah %.1fs, both %.1fs", kilnSeconds, buildahSeconds,
                (System.nanoTime() - t0) / 1e9));

        Predicate<String> buildahArtefact = p -> (BUILDAH_MOUNT_TARGETS.contains(p) || c.buildahArtefacts().contains(p))
                && mine.node(p) == null && theirs.node(p) != null && theirs.node(p).size() == 0
                && theirs.nodes().keySet().stream().noneMatch(other -> other.startsWith(p + "/")
                        && !c.buildahArtefacts().contains(other));
        for (Map.Entry<String, String> field : c.documented().entrySet()) {
            String[] path = field.getKey().split("\\.", 2);
            JsonNode holder = mine.runtime().path(path[0]);
            assertEquals(field.getValue(), holder.path(path[1]).toString(),
                    c.name() + ": kiln's config." + field.getKey() + " is not BuildKit's documented value");
            ((com.fasterxml.jackson.databind.node.ObjectNode) holder).remove(path[1]);
        }
        List<String> differences = new ArrayList<>(mine.filesystemDifferences(theirs, "kiln", "buildah",
                new FlatImage.Ignore(buildahArtefact, c.ignoreContent())));
        differences.addAll(mine.configDifferences(theirs, "kiln", "buildah", BUILDAH_LABELS));
        if (!differences.isEmpty()) {
            fail(c.name() + ": kiln's image differs from buildah's in " + differences.size() + " ways:\n  "
                    + String.join("\n  ", differences.subList(0, Math.min(60, differences.size()))));
        }
    }

    private static void kilnBuild(Case c, Path context, String image) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", KilnProcess.jar().toString(), "build", "-c", context.toString(),
                "-f", context.resolve("Dockerfile").toString(), "-d", image,
                "--registry-mirror", registry.host(), "--skip-default-registry-fallback",
                "--insecure-registry", registry.host(), "--cache-dir", work.resolve("kiln-cache").toString()));
        for (String arg : c.buildArgs()) {
            command.addAll(List.of("--build-arg", substitute(arg, "kiln")));
        }
        if (c.target() != null) {
            command.addAll(List.of("--target", c.target()));
        }
        ExecResult result = Tools.run(command, Map.of(), 600);
        if (!result.ok()) {
            fail("kiln build of " + c.name() + " exited " + result.exitCode() + ":\n" + result.output());
        }
    }

    private static List<String> buildahArgs(Case c) {
        List<String> args = new ArrayList<>();
        for (String arg : c.buildArgs()) {
            args.addAll(List.of("--build-arg", substitute(arg, "buildah")));
        }
        if (c.target() != null) {
            args.addAll(List.of("--target", c.target()));
        }
        return args;
    }

    private static String substitute(String arg, String tool) {
        return arg.replace("{http}", "http://127.0.0.1:" + http.getAddress().getPort())
                .replace("{git}", git.url("").replaceAll("/$", ""))
                .replace("{registry}", registry.host())
                .replace("{tool}", tool);
    }

    private static FlatImage pull(String image, String name) {
        Path layout = work.resolve("pulled").resolve(name);
        Tools.run(List.of("rm", "-rf", layout.toString()), Map.of(), 60);
        try {
            Files.createDirectories(layout.getParent());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        skopeo.run("copy", "--src-tls-verify=false", "docker://" + image, "dir:" + layout);
        return FlatImage.fromDirCopy(layout);
    }

    private interface Work {
        void run() throws Exception;
    }

    private static double timed(Work work) {
        long t0 = System.nanoTime();
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * Kiln's other outputs read back by real tools: the pushed image by {@code skopeo inspect}, the
     * {@code --tar-path} archive by {@code skopeo copy docker-archive:}, the {@code --oci-layout-path}
     * layout by {@code skopeo copy oci:}, all three the same image; and the pushed image run by
     * {@code buildah from} + {@code buildah run}.
     */
    @Test
    void kilnOutputsReadBackWithRealTools() throws Exception {
        Path context = GoldenContexts.prepare(CASES, work, "target");
        String image = registry.host() + "/golden/outputs-kiln:1";
        Path tar = work.resolve("outputs/image.tar");
        Path layout = work.resolve("outputs/layout");
        Path digestFile = work.resolve("outputs/digest");
        Files.createDirectories(tar.getParent());
        ExecResult result = Tools.run(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", KilnProcess.jar().toString(), "build", "-c", context.toString(), "--target", "middle",
                "-d", image, "--tar-path", tar.toString(), "--oci-layout-path", layout.toString(),
                "--digest-file", digestFile.toString(),
                "--registry-mirror", registry.host(), "--skip-default-registry-fallback",
                "--insecure-registry", registry.host(), "--cache-dir", work.resolve("kiln-cache").toString()), Map.of(), 600);
        assertTrue(result.ok(), result.output());
        String digest = Files.readString(digestFile).trim();

        JsonNode inspected = JSON.readTree(skopeo.run("inspect", "--tls-verify=false", "docker://" + image).stdout());
        assertEquals(digest, inspected.get("Digest").asText());
        assertEquals(List.of("STAGE=middle"), Arrays.stream(JSON.convertValue(inspected.get("Env"), String[].class))
                .filter(e -> e.startsWith("STAGE=")).toList());
        JsonNode config = JSON.readTree(skopeo.run("inspect", "--config", "--tls-verify=false", "docker://" + image).stdout());
        assertEquals("[\"cat\",\"/middle.txt\"]", config.get("config").get("Cmd").toString());

        FlatImage pushed = pull(image, "outputs-pushed");
        Path fromTar = work.resolve("outputs/from-tar");
        skopeo.run("copy", "docker-archive:" + tar, "oci:" + fromTar + ":t");
        Path fromLayout = work.resolve("outputs/from-layout");
        skopeo.run("copy", "oci:" + layout, "oci:" + fromLayout + ":t");
        for (Path copy : List.of(fromTar, fromLayout)) {
            FlatImage other = FlatImage.fromLayout(copy);
            List<String> differences = new ArrayList<>(pushed.filesystemDifferences(other, "pushed", copy.getFileName().toString(),
                    FlatImage.Ignore.NOTHING));
            differences.addAll(pushed.configDifferences(other, "pushed", copy.getFileName().toString(), Set.of()));
            assertEquals(List.of(), differences);
        }
        assertTrue(pushed.node("middle.txt") != null && pushed.node("base.txt") != null, pushed.nodes().keySet().toString());
        assertEquals("middle\n", buildah.runIn(image, "cat", "/middle.txt"));
        assertEquals("base\n", buildah.runIn(image, "sh", "-c", "cat /base.txt; test \"$STAGE\" = middle || echo no STAGE"));
    }
}
