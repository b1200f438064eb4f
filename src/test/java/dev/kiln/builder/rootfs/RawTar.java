package dev.kiln.builder.rootfs;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Date;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Builds tars entry by entry in exactly the order and with exactly the names given, hostile ones
 * included, which Kiln's own LayerWriter would refuse or rearrange.
 */
final class RawTar {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes, "UTF-8");

    RawTar() {
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    }

    private RawTar put(TarArchiveEntry entry, byte[] content) {
        try {
            entry.setModTime(Date.from(Instant.parse("2023-03-04T05:06:07Z")));
            if (content != null) {
                entry.setSize(content.length);
            }
            tar.putArchiveEntry(entry);
            if (content != null) {
                tar.write(content);
            }
            tar.closeArchiveEntry();
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static TarArchiveEntry named(String name, byte flag) {
        // preserveAbsolutePath: keep leading slashes and dots exactly as a hostile layer would
        return new TarArchiveEntry(name, flag, true);
    }

    RawTar file(String name, String content) {
        return file(name, content, 0644, 0, 0);
    }

    RawTar file(String name, String content, int mode, int uid, int gid) {
        TarArchiveEntry e = named(name, TarConstants.LF_NORMAL);
        e.setMode(mode);
        e.setUserId(uid);
        e.setGroupId(gid);
        return put(e, content.getBytes(StandardCharsets.UTF_8));
    }

    RawTar dir(String name) {
        return dir(name, 0755);
    }

    RawTar dir(String name, int mode) {
        TarArchiveEntry e = named(name.endsWith("/") ? name : name + "/", TarConstants.LF_DIR);
        e.setMode(mode);
        return put(e, null);
    }

    RawTar symlink(String name, String target) {
        TarArchiveEntry e = named(name, TarConstants.LF_SYMLINK);
        e.setLinkName(target);
        return put(e, null);
    }

    RawTar hardlink(String name, String target) {
        TarArchiveEntry e = named(name, TarConstants.LF_LINK);
        e.setLinkName(target);
        return put(e, null);
    }

    RawTar device(String name, byte flag, int major, int minor) {
        TarArchiveEntry e = named(name, flag);
        e.setDevMajor(major);
        e.setDevMinor(minor);
        e.setMode(0666);
        return put(e, null);
    }

    InputStream stream() {
        try {
            tar.finish();
            return new ByteArrayInputStream(bytes.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
