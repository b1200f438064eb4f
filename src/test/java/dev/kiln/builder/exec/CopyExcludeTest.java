package dev.kiln.builder.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.rootfs.RootfsPath;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** COPY/ADD --exclude: .dockerignore patterns matched below each matched source (BuildKit's excluded-files test shapes). */
class CopyExcludeTest {
    @TempDir
    Path dir;
    Path context;
    Path rootfs;

    @BeforeEach
    void context() throws IOException {
        context = Files.createDirectories(dir.resolve("ctx"));
        rootfs = Files.createDirectories(dir.resolve("rootfs"));
        for (String f : List.of("dir1/a.png", "dir1/b.txt", "dir2/c.pdf", "dir2/d.png", "dir3/e.mp3", "dir3/f.mpeg",
                "dir3/keep/x.tmp", "dir3/keep/y.txt", "dir3/cache/z.txt")) {
            Files.createDirectories(context.resolve(f).getParent());
            Files.writeString(context.resolve(f), f + "\n");
        }
    }

    private ContextCopier copier(List<String> excludes) throws IOException {
        return new ContextCopier(context, true, DockerIgnore.of(List.of()), RootfsPath.of(rootfs)).excluding(excludes);
    }

    private List<String> copied() throws IOException {
        try (Stream<Path> walk = Files.walk(rootfs)) {
            return walk.filter(Files::isRegularFile).map(p -> rootfs.relativize(p).toString()).sorted().toList();
        }
    }

    @Test
    void patternsAreRelativeToTheCopiedDirectory() throws Exception {
        copier(List.of("*/*.png", "*.mpeg")).copy(List.of("."), "/out/", null, false);
        assertEquals(List.of("out/dir1/b.txt", "out/dir2/c.pdf", "out/dir3/cache/z.txt", "out/dir3/e.mp3", "out/dir3/f.mpeg",
                "out/dir3/keep/x.tmp", "out/dir3/keep/y.txt"), copied(), "*.mpeg matches only at the top of the source");
    }

    @Test
    void wildcardSourcesApplyThePatternsBelowEachMatch() throws Exception {
        copier(List.of("*.png", "*.pdf", "*.mp*", "cache")).copy(List.of("dir*"), "/out/", null, false);
        assertEquals(List.of("out/b.txt", "out/keep/x.tmp", "out/keep/y.txt"), copied());
    }

    @Test
    void anExcludedDirectoryTakesItsContentsAndAnExceptionBringsSomeBack() throws Exception {
        copier(List.of("keep", "!keep/*.txt", "**/*.mp3")).copy(List.of("dir3"), "/out", null, false);
        assertEquals(List.of("out/cache/z.txt", "out/f.mpeg", "out/keep/y.txt"), copied());
    }

    @Test
    void excludingEverythingLeavesAnEmptyDestination() throws Exception {
        copier(List.of("*")).copy(List.of("dir*"), "/six", null, false);
        assertEquals(List.of(), copied());
        assertEquals(true, Files.isDirectory(rootfs.resolve("six")));
    }

    @Test
    void theCacheKeyDigestSeesTheExclusions() throws Exception {
        String all = copier(List.of()).digest(List.of("dir3"));
        String without = copier(List.of("keep")).digest(List.of("dir3"));
        Files.writeString(context.resolve("dir3/keep/x.tmp"), "changed\n");
        assertEquals(without, copier(List.of("keep")).digest(List.of("dir3")), "an excluded file's change is no miss");
        assertNotEquals(all, without);
    }
}
