package dev.kiln.builder.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.builder.rootfs.Trees;
import dev.kiln.testkit.Tools;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A RUN's upper directory applied to a rootfs on another filesystem (the overlay mount of kept
 * layers that stages stand on by default): entries are copied instead of renamed, and a FIFO the
 * RUN made is made anew, never opened (Files.copy opened it and waited for a writer forever), and
 * names of one inode stay one inode.
 */
class OverlayUpperAcrossTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aFifoInANewDirectoryIsMadeAnewOnTheOtherFilesystem() throws Exception {
        assumeTrue(Tools.isRoot(), "mounting a tmpfs needs root");
        Path upper = Files.createDirectories(tmp.resolve("upper/var/lib"));
        Trees.mkfifo(upper.resolve("fifo"));
        Files.setAttribute(upper.resolve("fifo"), "unix:mode", 0640);
        Trees.setFifoMtime(upper.resolve("fifo"), FileTime.fromMillis(1_700_000_000_000L));
        Files.writeString(upper.resolve("conf"), "base\n");
        Path rootfs = Files.createDirectory(tmp.resolve("rootfs"));
        Tools.run("mount", "-t", "tmpfs", "tmpfs", rootfs.toString()).requireSuccess();
        try {
            Files.createDirectory(rootfs.resolve("var"));
            OverlayUpper.applyTo(tmp.resolve("upper"), rootfs);
            Path fifo = rootfs.resolve("var/lib/fifo");
            assertTrue((Boolean) Files.getAttribute(fifo, "unix:isOther", LinkOption.NOFOLLOW_LINKS), "not a FIFO");
            assertEquals(0640, (Integer) Files.getAttribute(fifo, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777);
            assertEquals(FileTime.fromMillis(1_700_000_000_000L), Files.getLastModifiedTime(fifo, LinkOption.NOFOLLOW_LINKS));
            assertEquals("base\n", Files.readString(rootfs.resolve("var/lib/conf")));
        } finally {
            Tools.run("umount", "-l", rootfs.toString());
        }
    }

    /**
     * A RUN that hardlinks a file of the image ({@code ln /bin/busybox /links/hard}) leaves both names
     * on one inode in its upper dir; copied across, they stay one inode, whichever is copied first
     * (the first copy's source is deleted before the second name is reached, so nlink says 1 by then).
     */
    @Test
    void namesOfOneInodeStayOneInodeWhenCopiedAcross() throws Exception {
        assumeTrue(Tools.isRoot(), "mounting a tmpfs needs root");
        Path upper = Files.createDirectories(tmp.resolve("upper/bin"));
        Files.writeString(upper.resolve("busybox"), "new busybox");
        Files.createDirectories(tmp.resolve("upper/links"));
        Files.createLink(tmp.resolve("upper/links/hard"), upper.resolve("busybox"));
        Path rootfs = Files.createDirectory(tmp.resolve("rootfs"));
        Tools.run("mount", "-t", "tmpfs", "tmpfs", rootfs.toString()).requireSuccess();
        try {
            Files.createDirectory(rootfs.resolve("bin"));
            Files.writeString(rootfs.resolve("bin/busybox"), "old busybox");
            OverlayUpper.applyTo(tmp.resolve("upper"), rootfs);
            Object busybox = Files.getAttribute(rootfs.resolve("bin/busybox"), "unix:ino", LinkOption.NOFOLLOW_LINKS);
            assertEquals(busybox, Files.getAttribute(rootfs.resolve("links/hard"), "unix:ino", LinkOption.NOFOLLOW_LINKS));
            assertEquals(2, Files.getAttribute(rootfs.resolve("bin/busybox"), "unix:nlink", LinkOption.NOFOLLOW_LINKS));
            assertEquals("new busybox", Files.readString(rootfs.resolve("links/hard")));
        } finally {
            Tools.run("umount", "-l", rootfs.toString());
        }
    }
}
