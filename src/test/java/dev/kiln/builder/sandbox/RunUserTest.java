package dev.kiln.builder.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.builder.rootfs.RootfsPath;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunUserTest {
    @Test
    void homeComesFromPasswdByNameOrUidAndIsTheRootOtherwise(@TempDir Path rootfs) throws Exception {
        RootfsPath root = withEtc(rootfs, """
                root:x:0:0:root:/root:/bin/sh
                app:x:1000:1000:app:/home/app:/bin/sh
                nohome:x:1001:1001:::/bin/sh
                """, "");
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

    @Test
    void supplementaryGroupsAreTheGroupsListingTheUserUnlessAGroupIsNamed(@TempDir Path rootfs) throws Exception {
        RootfsPath root = withEtc(rootfs, """
                root:x:0:0:root:/root:/bin/sh
                app:x:1000:1000:app:/home/app:/bin/sh
                """, """
                root:x:0:
                wheel:x:10:root
                app:x:1000:
                builders:x:2000:app
                tools:x:2001:nobody,app,other
                apprentices:x:2002:apprentice
                """);
        assertEquals(List.of(2000L, 2001L), RunUser.supplementaryGroups(root, "app"));
        assertEquals(List.of(2000L, 2001L), RunUser.supplementaryGroups(root, "1000"), "a uid is listed under its passwd name");
        assertEquals(List.of(2000L, 2001L), RunUser.supplementaryGroups(root, "app:"));
        assertEquals(List.of(), RunUser.supplementaryGroups(root, "app:tools"), "a named group is the only one, as runc");
        assertEquals(List.of(), RunUser.supplementaryGroups(root, "1000:1000"));
        assertEquals(List.of(), RunUser.supplementaryGroups(root, "4242"), "no passwd entry, no name to be listed under");
        assertEquals(List.of(10L), RunUser.supplementaryGroups(root, null));
        assertEquals(List.of(10L), RunUser.supplementaryGroups(root, "root"));
    }

    private static RootfsPath withEtc(Path rootfs, String passwd, String group) throws java.io.IOException {
        Files.createDirectories(rootfs.resolve("etc"));
        Files.writeString(rootfs.resolve("etc/passwd"), passwd);
        Files.writeString(rootfs.resolve("etc/group"), group);
        return RootfsPath.of(rootfs);
    }
}
