package dev.kiln.builder.steps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** WORKDIR sets the working directory and creates it in the rootfs, owned by the USER in effect. */
class WorkdirStepTest {

    @Test
    void createsTheDirectoryRelativeToThePreviousOneForTheCurrentUser(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                ENV BASE=/srv
                WORKDIR $BASE
                USER app
                WORKDIR data/../app
                """);
        Files.createDirectories(f.rootfs.resolve("etc"));
        Files.writeString(f.rootfs.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n");
        Files.writeString(f.rootfs.resolve("etc/group"), "root:x:0:\napp:x:1001:\n");
        f.apply(4);
        assertEquals("/srv/app", f.ctx.container().workingDir());
        Path created = f.rootfs.resolve("srv/app");
        assertTrue(Files.isDirectory(created));
        assertEquals(1000, Files.getAttribute(created, "unix:uid"));
        assertEquals(1001, Files.getAttribute(created, "unix:gid"));
        assertEquals(0, Files.getAttribute(f.rootfs.resolve("srv"), "unix:uid"), "made before USER: root's");
        assertTrue(f.step(1).changesFilesystem());
    }

    @Test
    void theCacheKeyFollowsTheResolvedDirectoryAndACacheHitSetsItWithoutFiles(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                WORKDIR app
                """);
        String atRoot = f.step(0).cacheKey(f.ctx);
        f.ctx.container(f.ctx.container().withWorkingDir("/opt"));
        String atOpt = f.step(0).cacheKey(f.ctx);
        assertNotEquals(atRoot, atOpt, "the same WORKDIR line lands elsewhere after another WORKDIR");
        f.step(0).applyConfigOnly(f.ctx);
        assertEquals("/opt/app", f.ctx.container().workingDir());
        assertTrue(Files.notExists(f.rootfs.resolve("opt")), "a cached WORKDIR comes with its layer, not by running");
    }
}
