package dev.kiln.builder.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RUN --mount in place as copies, on a stand-in root (the sandbox itself only runs on /). */
class InPlaceMountsTest {
    @TempDir
    Path tmp;

    private RunSpec spec(Path root, RunMount... mounts) {
        return RunSpec.builder(root, List.of("true")).workdir("/work").mounts(List.of(mounts)).build();
    }

    @Test
    void mountsAreThereForTheCommandAndGoneAfterwardsWithTheImagesFilesBack() throws IOException {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.createDirectories(root.resolve("work"));
        Files.createDirectories(root.resolve("var/cache/tool"));
        Files.writeString(root.resolve("var/cache/tool/from-image"), "image");
        FileTime then = FileTime.fromMillis(1_000_000_000L);
        Files.setLastModifiedTime(root.resolve("var/cache/tool/from-image"), then);
        Path source = Files.writeString(tmp.resolve("ctx.txt"), "context");
        Path cache = Files.createDirectories(tmp.resolve("cache/tool"));
        Files.writeString(cache.resolve("old"), "earlier run");
        Path secret = Files.writeString(tmp.resolve("token"), "s3cret");

        try (InPlaceMounts mounts = InPlaceMounts.place(spec(root,
                new RunMount.Bind(source, "mnt/deep/ctx.txt", true),
                new RunMount.Cache(cache, "/var/cache/tool", false),
                new RunMount.Secret(secret, "/run/secrets/token"),
                new RunMount.Tmpfs("/scratch", null)))) {
            assertEquals("context", Files.readString(root.resolve("work/mnt/deep/ctx.txt")), "a relative target is under the workdir");
            assertEquals("earlier run", Files.readString(root.resolve("var/cache/tool/old")));
            assertFalse(Files.exists(root.resolve("var/cache/tool/from-image")), "the mount covers what the image had there");
            assertEquals("s3cret", Files.readString(root.resolve("run/secrets/token")));
            assertEquals("r--------", PosixFilePermissions.toString(Files.getPosixFilePermissions(root.resolve("run/secrets/token"))));
            assertTrue(Files.isDirectory(root.resolve("scratch")));
            // the command
            Files.writeString(root.resolve("var/cache/tool/new"), "this run");
            Files.writeString(root.resolve("work/mnt/deep/ctx.txt"), "overwritten");
            mounts.keepCaches();
        }
        assertFalse(Files.exists(root.resolve("work/mnt")), "directories made for a mount go again");
        assertFalse(Files.exists(root.resolve("run")));
        assertFalse(Files.exists(root.resolve("scratch")));
        assertEquals("image", Files.readString(root.resolve("var/cache/tool/from-image")), "the image's files come back");
        assertEquals(then, Files.getLastModifiedTime(root.resolve("var/cache/tool/from-image")));
        assertEquals(List.of("from-image"), Files.list(root.resolve("var/cache/tool")).map(p -> p.getFileName().toString()).toList());
        assertEquals(List.of("var", "work"), Files.list(root).map(p -> p.getFileName().toString()).sorted().toList());
        assertEquals("this run", Files.readString(cache.resolve("new")), "the cache keeps what the command left there");
        assertEquals("earlier run", Files.readString(cache.resolve("old")));
        assertEquals("context", Files.readString(source), "a write to a bind never reaches its source");
    }

    @Test
    void aFailedPlacementTakesOutWhatItHadPlaced() throws IOException {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Path source = Files.writeString(tmp.resolve("a"), "a");
        assertThrows(SandboxException.class, () -> InPlaceMounts.place(spec(root,
                new RunMount.Bind(source, "/first/a", true),
                new RunMount.Bind(tmp.resolve("missing"), "/second/b", true))));
        assertEquals(List.of(), Files.list(root).toList());
    }
}
