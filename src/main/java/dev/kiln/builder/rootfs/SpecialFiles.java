package dev.kiln.builder.rootfs;

import dev.kiln.oci.layer.EntryType;
import dev.kiln.oci.layer.LayerEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

/**
 * Makes a layer's device and fifo entries without ever opening them: a device becomes a
 * {@link DevicePlaceholder} (a real node would be the host's device for whoever opens it), a fifo
 * a real fifo (no privilege needed), whose opening would block the extractor.
 */
final class SpecialFiles {
    private SpecialFiles() {
    }

    /** Makes {@code entry} (a device or a fifo) at {@code target}, which must not exist. */
    static void make(Path target, LayerEntry entry, EntryAttributes attributes) throws IOException {
        if (entry.type() != EntryType.FIFO) {
            DevicePlaceholder.create(target, new DevicePlaceholder.Device(
                    entry.type() == EntryType.CHAR_DEVICE ? 'c' : 'b', entry.devMajor(), entry.devMinor()));
            attributes.owner(target, entry);
            Files.setAttribute(target, "unix:mode", entry.mode() & 07777);
            Files.setLastModifiedTime(target, FileTime.from(entry.mtime()));
            return;
        }
        // Java's attribute views open the file to set times, which blocks on a fifo; the
        // coreutils do both by path.
        Trees.mkfifo(target);
        attributes.owner(target, entry);
        Trees.setFifoMtime(target, FileTime.from(entry.mtime()));
        Files.setAttribute(target, "unix:mode", entry.mode()); // by path: chmod(2) opens nothing
    }
}
