package dev.kiln.builder.rootfs;

import static dev.kiln.testkit.Tools.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.layer.LayerEntry;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpecialFilesTest {
    private static final Instant MTIME = Instant.parse("2023-03-04T05:06:07Z");

    @TempDir
    Path tmp;

    private final EntryAttributes attributes = new EntryAttributes(false, false);

    @Test
    void aDeviceBecomesARegularPlaceholderNamingItNeverANode() throws Exception {
        Path target = tmp.resolve("null");
        SpecialFiles.make(target, LayerEntry.charDevice("dev/null", 1, 3).withMode(0620).withMtime(MTIME), attributes);
        assertTrue(Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS));
        assertEquals(new DevicePlaceholder.Device('c', 1, 3), DevicePlaceholder.read(target).orElseThrow());
        assertEquals(0620, (Integer) Files.getAttribute(target, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777);
        assertEquals(MTIME, Files.getLastModifiedTime(target, LinkOption.NOFOLLOW_LINKS).toInstant());

        Path block = tmp.resolve("loop9");
        SpecialFiles.make(block, LayerEntry.blockDevice("dev/loop9", 7, 9), attributes);
        assertEquals(new DevicePlaceholder.Device('b', 7, 9), DevicePlaceholder.read(block).orElseThrow());
    }

    @Test
    void aFifoIsMadeWithItsModeAndTimeWithoutBeingOpened() throws Exception {
        Path target = tmp.resolve("pipe");
        // opening a fifo that nobody writes blocks forever: the deadline is what fails then
        assertTimeoutPreemptively(Duration.ofSeconds(30), () ->
                SpecialFiles.make(target, LayerEntry.fifo("run/pipe").withMode(0640).withMtime(MTIME), attributes));
        assertTrue(sh("ls -l " + target).startsWith("prw-r-----"), sh("ls -l " + target));
        assertEquals(0010000, (Integer) Files.getAttribute(target, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000);
        assertEquals(MTIME, Files.getLastModifiedTime(target, LinkOption.NOFOLLOW_LINKS).toInstant());
    }
}
