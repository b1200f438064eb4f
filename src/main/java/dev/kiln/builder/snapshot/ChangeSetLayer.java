package dev.kiln.builder.snapshot;

import dev.kiln.builder.rootfs.DevicePlaceholder;
import dev.kiln.oci.layer.EntryType;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerPaths;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Turns a {@link ChangeSet} into layer entries: each changed path with its metadata from the
 * snapshot, whiteouts and opaque markers, every parent directory of those (with its real
 * metadata, so extraction does not invent one), and files that share an inode as one file plus
 * tar hardlinks to it.
 */
final class ChangeSetLayer {
    private ChangeSetLayer() {
    }

    static List<LayerEntry> entries(ChangeSet changes, FileSnapshot after, Path rootfs, Consumer<String> warnings) throws IOException {
        Map<String, LayerEntry> entries = new TreeMap<>(LayerPaths::compare);
        Map<List<Long>, String> firstByInode = new HashMap<>();
        for (String path : changes.changed()) {
            FileStat stat = after.get(path);
            if (stat.type() == FileType.SOCKET) {
                warnings.accept(path + ": socket left out of the layer");
                continue;
            }
            LayerEntry entry = entry(path, stat, rootfs, warnings);
            if (stat.type() == FileType.REGULAR && stat.nlink() > 1) {
                // changed paths come in tar order, so the first of a group carries the content
                String first = firstByInode.putIfAbsent(List.of(stat.dev(), stat.ino()), path);
                if (first != null) {
                    entry = entry.asHardlinkTo(first);
                }
            }
            entries.put(path, entry);
        }
        for (String dir : changes.opaqueDirs()) {
            LayerEntry marker = LayerEntry.opaque(dir);
            entries.put(marker.path(), marker);
        }
        for (String path : changes.whiteouts()) {
            LayerEntry whiteout = LayerEntry.whiteout(path);
            entries.put(whiteout.path(), whiteout);
        }
        for (String path : new ArrayList<>(entries.keySet())) {
            for (String parent = LayerPaths.parent(path); !parent.isEmpty() && !entries.containsKey(parent);
                    parent = LayerPaths.parent(parent)) {
                entries.put(parent, entry(parent, after.get(parent), rootfs, warnings));
            }
        }
        return new ArrayList<>(entries.values());
    }

    private static LayerEntry entry(String path, FileStat stat, Path rootfs, Consumer<String> warnings) throws IOException {
        if (stat == null) {
            throw new IllegalStateException("no stat for " + path);
        }
        Path host = rootfs.resolve(path);
        LayerEntry entry = switch (stat.type()) {
            // a placeholder is an empty file: reading xattrs opens the file, twice per file for a big RUN otherwise
            case REGULAR -> (stat.size() == 0 ? DevicePlaceholder.read(host) : Optional.<DevicePlaceholder.Device>empty())
                    .map(d -> d.type() == 'c' ? LayerEntry.charDevice(path, d.major(), d.minor())
                            : LayerEntry.blockDevice(path, d.major(), d.minor()))
                    .orElseGet(() -> LayerEntry.file(path, host, stat.size()));
            case DIRECTORY -> LayerEntry.directory(path);
            case SYMLINK -> LayerEntry.symlink(path, stat.linkTarget());
            case CHAR_DEVICE -> LayerEntry.charDevice(path, stat.devMajor(), stat.devMinor());
            case BLOCK_DEVICE -> LayerEntry.blockDevice(path, stat.devMajor(), stat.devMinor());
            case FIFO -> LayerEntry.fifo(path);
            case SOCKET -> throw new IllegalStateException("sockets have no tar form: " + path);
        };
        entry = entry.withMode(stat.mode()).withOwner(stat.uid(), stat.gid()).withMtime(stat.mtime());
        if (entry.type() == EntryType.FILE || stat.type() == FileType.DIRECTORY) {
            entry = entry.withXattrs(userXattrs(path, host, warnings));
        }
        return entry;
    }

    /** Only {@code user.*} is reachable from Java; values that are not UTF-8 cannot go in PAX via commons-compress. */
    private static Map<String, byte[]> userXattrs(String path, Path host, Consumer<String> warnings) throws IOException {
        UserDefinedFileAttributeView view = Files.getFileAttributeView(host, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        if (view == null) {
            return Map.of();
        }
        List<String> names;
        try {
            names = view.list();
        } catch (IOException | UnsupportedOperationException e) {
            return Map.of(); // the filesystem has no xattrs
        }
        Map<String, byte[]> xattrs = new TreeMap<>();
        for (String name : names) {
            if (name.equals(DevicePlaceholder.XATTR)) {
                continue; // Kiln's own marker, never the image's
            }
            ByteBuffer buffer = ByteBuffer.allocate(view.size(name));
            view.read(name, buffer);
            byte[] value = new byte[buffer.flip().remaining()];
            buffer.get(value);
            try {
                StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(value));
                xattrs.put("user." + name, value);
            } catch (CharacterCodingException e) {
                warnings.accept(path + ": binary xattr user." + name + " left out of the layer");
            }
        }
        return xattrs;
    }
}
