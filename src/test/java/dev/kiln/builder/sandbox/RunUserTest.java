package dev.kiln.builder.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.builder.rootfs.RootfsPath;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunUserTest {
    @Test
    void homeComesFromPasswdByNameOrUidAndIsTheRootOtherwise(@TempDir Path rootfs) throws Exception {
        Files.createDirectories(rootfs.resolve("etc"));
        Files.writeString(rootfs.resolve("etc/passwd"), """
                root:x:0:0:root:/root:/bin/sh
                app:x:1000:1000:app:/home/app:/bin/sh
                nohome:x:1001:1001:::/bin/sh
                """);
        RootfsPath root = RootfsPath.of(rootfs);
        assertEquals("/root", RunUser.home(root, null));
        assertEquals("/root", RunUser.home(root, ""));
        assertEquals("/home/app", RunUser.home(root, "app"));
        assertEquals("/home/app", RunUser.home(root, "1000:65534"));
        assertEquals("/home/app", RunUser.home(root, "app:root"));
        assertEquals("/", RunUser.home(root, "4242"));
        assertEquals("/", RunUser.home(root, "nohome"));
    }

    @Test
    void homeIsTheRootWithoutPasswd(@TempDir Path rootfs) throws Exception {
        assertEquals("/", RunUser.home(RootfsPath.of(rootfs), "root"));
    }
}
