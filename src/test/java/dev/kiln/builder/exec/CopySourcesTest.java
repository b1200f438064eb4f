package dev.kiln.builder.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.dockerfile.DockerIgnore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CopySourcesTest {
    @TempDir
    Path dir;
    Path context;

    @BeforeEach
    void setUp() throws IOException {
        context = Files.createDirectories(dir.resolve("ctx"));
        Files.createDirectories(context.resolve("src/sub"));
        Files.writeString(context.resolve("src/a.go"), "a");
        Files.writeString(context.resolve("src/b.go"), "b");
        Files.writeString(context.resolve("src/sub/c.txt"), "c");
        Files.writeString(context.resolve("secret.env"), "x");
        Files.writeString(dir.resolve("outside"), "host");
    }

    private CopySources sources(String... ignored) {
        return new CopySources(context, true, DockerIgnore.of(List.of(ignored)));
    }

    private List<String> names(List<Path> paths) {
        return paths.stream().map(p -> context.relativize(p).toString()).toList();
    }

    @Test
    void aWildcardMatchesSortedAndDockerignoreLeavesPathsOut() throws Exception {
        assertEquals(List.of("src/a.go", "src/b.go"), names(sources().match("src/*.go")));
        assertEquals(List.of("src/b.go"), names(sources("src/a.go").match("src/*.go")));
        assertEquals(List.of(), sources("secret.env").match("secret.env"));
        assertEquals(List.of("src"), names(sources().match("/src")), "a leading / is the context's root");
    }

    @Test
    void nothingOutsideTheContextIsNamedOrReachedThroughALink() throws Exception {
        BuildException climbing = assertThrows(BuildException.class, () -> sources().match("../outside"));
        assertTrue(climbing.getMessage().contains("outside the build context"), climbing.getMessage());
        Files.createSymbolicLink(context.resolve("escape"), dir.resolve("outside"));
        IOException escaping = assertThrows(IOException.class, () -> sources().match("escape"));
        assertTrue(escaping.getMessage().contains("outside the build context"), escaping.getMessage());
    }

    @Test
    void aSymlinkedSourceIsFollowedInsideTheTreeAndADanglingOneIsAClearError() throws Exception {
        Files.createSymbolicLink(context.resolve("to-a"), Path.of("src/a.go"));
        assertEquals(context.resolve("src/a.go"), sources().followed(context.resolve("to-a")));
        Files.createSymbolicLink(context.resolve("dangling"), Path.of("nowhere"));
        BuildException e = assertThrows(BuildException.class, () -> sources().followed(context.resolve("dangling")));
        assertTrue(e.getMessage().contains("which does not exist"), e.getMessage());
    }

    @Test
    void excludePatternsAreRelativeToTheMatchedSourceAndSkipOnlyBelowIt() throws Exception {
        CopySources sources = sources();
        sources.excluding(List.of("*.go"));
        sources.walking(context.resolve("src"));
        assertTrue(sources.skipped(context.resolve("src/a.go")));
        assertEquals(false, sources.skipped(context.resolve("src/sub")));
        assertEquals(false, sources.skipped(context.resolve("src")), "the match itself is never excluded");
    }

    @Test
    void theDigestFollowsContentModesAndLinkGroupsButNotWhatIsIgnored() throws Exception {
        String before = sources().digest(List.of("src"));
        assertEquals(before, sources().digest(List.of("src")), "the same tree, the same digest");
        Files.writeString(context.resolve("src/sub/c.txt"), "changed");
        String changed = sources().digest(List.of("src"));
        assertNotEquals(before, changed);
        Files.setPosixFilePermissions(context.resolve("src/a.go"), java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        String chmodded = sources().digest(List.of("src"));
        assertNotEquals(changed, chmodded);
        Files.createLink(context.resolve("src/a-too.go"), context.resolve("src/a.go"));
        String linked = sources().digest(List.of("src"));
        Files.delete(context.resolve("src/a-too.go"));
        Files.writeString(context.resolve("src/a-too.go"), "a");
        Files.setPosixFilePermissions(context.resolve("src/a-too.go"), java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        assertNotEquals(linked, sources().digest(List.of("src")), "a hardlink and a copy make different layers");
        assertEquals(sources("src/sub").digest(List.of("src")), sources("src/sub").digest(List.of("src")));
        String ignoringSub = sources("src/sub").digest(List.of("src"));
        Files.writeString(context.resolve("src/sub/c.txt"), "changed again");
        assertEquals(ignoringSub, sources("src/sub").digest(List.of("src")), "ignored files do not count");
    }
}
