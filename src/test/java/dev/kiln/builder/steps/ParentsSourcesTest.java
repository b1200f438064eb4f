package dev.kiln.builder.steps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.ContextCopier;
import dev.kiln.builder.rootfs.RootfsPath;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** COPY --parents: the shapes of BuildKit's parents tests (pivots, wildcards, {@code **}, several sources). */
class ParentsSourcesTest {
    @TempDir
    Path dir;
    Path root;

    @BeforeEach
    void tree() throws IOException {
        root = Files.createDirectories(dir.resolve("root"));
        for (String d : List.of("test/a/b/c/d/e", "test/a/b2/c/d/e", "test/a/b/c2/d/e", "test/a/b/c2/d/e2")) {
            Files.createDirectories(root.resolve(d));
        }
        for (String f : List.of("test/a/b/c/d/foo", "test/a/b/c/d/e/bay", "test/a/b2/c/d/e/bar", "test/a/b/c2/d/e/baz",
                "test/a/b/c2/d/e2/baz")) {
            Files.writeString(root.resolve(f), f + "\n");
        }
        Files.setAttribute(root.resolve("test/a"), "unix:mode", 0700);
    }

    private List<String> copy(String... sources) throws Exception {
        Path rootfs = Files.createDirectories(dir.resolve("rootfs-" + System.nanoTime()));
        ContextCopier copier = new ContextCopier(root, false, null, RootfsPath.of(rootfs));
        ParentsSources parents = new ParentsSources(root, false, null);
        for (String s : sources) {
            for (ParentsSources.Match m : parents.resolve(s)) {
                parents.copy(copier, RootfsPath.of(rootfs), m, "/out/", new ContextCopier.Attributes(null, null, null), false);
            }
        }
        try (Stream<Path> walk = Files.walk(rootfs.resolve("out"))) {
            return walk.filter(p -> !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) || isEmpty(p))
                    .map(p -> rootfs.resolve("out").relativize(p).toString()).sorted().toList();
        }
    }

    private static boolean isEmpty(Path d) {
        try (Stream<Path> list = Files.list(d)) {
            return list.findAny().isEmpty();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void withoutAPivotTheWholePathIsKept() throws Exception {
        assertEquals(List.of("test/a/b/c/d/e/bay", "test/a/b/c/d/foo"), copy("/test/a/b/c/d"));
        assertEquals(List.of("test/a/b/c/d/e/bay", "test/a/b/c/d/foo"), copy("./test/a/b/c/d/."));
    }

    @Test
    void aPivotKeepsOnlyWhatFollowsIt() throws Exception {
        assertEquals(List.of("c/d/e/bay", "c/d/foo"), copy("/test/a/b/./c/d"));
        assertEquals(List.of("b/c/d/e/bay", "b/c/d/foo"), copy("/test/a/./b/./c"), "only the first pivot counts");
    }

    @Test
    void wildcardsInThePatternAndInThePivot() throws Exception {
        assertEquals(List.of("b/c/d/e/bay", "b/c/d/foo", "b2/c/d/e/bar"), copy("/test/a/./*/c"));
        assertEquals(List.of("c/d/e/bar", "c/d/e/bay"), copy("/test/a/b*/./c/**/e"));
        assertEquals(List.of("c/d/e/bar", "d/e/baz", "d/e2/baz"), copy("/test/a/b/c*/./d/**/baz", "/test/a/b*/./c/**/bar"));
    }

    @Test
    void madeParentsTakeTheSourceModes() throws Exception {
        Path rootfs = Files.createDirectories(dir.resolve("modes"));
        ParentsSources parents = new ParentsSources(root, false, null);
        ParentsSources.Match m = parents.resolve("test/a/b/c/d/foo").get(0);
        parents.copy(new ContextCopier(root, false, null, RootfsPath.of(rootfs)), RootfsPath.of(rootfs), m, "/",
                new ContextCopier.Attributes(null, null, null), false);
        assertEquals(0700, (Integer) Files.getAttribute(rootfs.resolve("test/a"), "unix:mode") & 07777);
        assertEquals(0755, (Integer) Files.getAttribute(rootfs.resolve("test/a/b"), "unix:mode") & 07777);
    }

    @Test
    void aMissingPathWithoutWildcardsFailsAndDockerignoreApplies() throws Exception {
        assertThrows(BuildException.class, () -> new ParentsSources(root, false, null).resolve("test/nope"));
        assertEquals(List.of(), new ParentsSources(root, false, null).resolve("test/*/nope"));
        List<ParentsSources.Match> kept = new ParentsSources(root, true, DockerIgnore.of(List.of("**/e"))).resolve("test/a/./b*/c");
        assertEquals(List.of("test/a/b/c", "test/a/b2/c"), kept.stream().map(ParentsSources.Match::source).toList());
    }
}
