package dev.kiln.oci.layer;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Writes a layer tar (PAX format) from a list of entries, compressing and digesting as it streams.
 *
 * <p>The output depends only on the entries and the options, never on the order of the list,
 * the clock or the user running the writer: entries are sorted ({@link LayerPaths#compare}),
 * missing parent directories are added, user and group names are left empty, no atime or ctime
 * is recorded, mtimes go through the {@link MtimePolicy}, and the gzip header carries no name and
 * no time. Same entries and same file contents therefore give the same digest and diff_id, on any
 * number of cores ({@link LayerCompressor}).
 */
public final class LayerWriter {
    private static final int BUFFER = 64 * 1024;

    private final Compression compression;
    private final MtimePolicy mtimes;

    public LayerWriter(Compression compression, MtimePolicy mtimes) {
        this.compression = Objects.requireNonNull(compression);
        this.mtimes = Objects.requireNonNull(mtimes);
    }

    /** Kiln's reproducible mode: mtimes clamped to {@code SOURCE_DATE_EPOCH} (see {@link MtimePolicy}). */
    public static LayerWriter reproducible(Compression compression, Instant sourceDateEpoch) {
        return new LayerWriter(compression, MtimePolicy.clampTo(sourceDateEpoch));
    }

    public Compression compression() {
        return compression;
    }

    public WrittenLayer write(List<LayerEntry> entries, Path file) throws IOException {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), BUFFER)) {
            return write(entries, out);
        }
    }

    /** Writes the layer to {@code out}, which is flushed but left open. */
    public WrittenLayer write(List<LayerEntry> entries, OutputStream out) throws IOException {
        List<LayerEntry> ordered = arrange(entries);
        List<LayerEntry> headers = new ArrayList<>(ordered.size());
        DigestingOutputStream compressed = new DigestingOutputStream(out, false);
        DigestingOutputStream plain = new DigestingOutputStream(
                new BufferedOutputStream(LayerCompressor.open(compression, compressed), BUFFER), true);
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(plain, StandardCharsets.UTF_8.name())) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            tar.setAddPaxHeadersForNonAsciiNames(true);
            byte[] buffer = new byte[BUFFER];
            for (LayerEntry entry : ordered) {
                TarArchiveEntry header = header(entry);
                headers.add(LayerReader.toEntry(header));
                tar.putArchiveEntry(header);
                if (entry.type() == EntryType.FILE && entry.size() > 0) {
                    copyContent(entry, tar, buffer);
                }
                tar.closeArchiveEntry();
            }
            tar.finish();
        }
        return new WrittenLayer(compressed.digester().digest(), compressed.digester().length(),
                plain.digester().digest(), plain.digester().length(), compression, ordered.size(), headers);
    }

    /**
     * Cleans and checks names, makes every hardlink group point at the member that is written
     * first, adds missing parent directories, and sorts.
     */
    List<LayerEntry> arrange(List<LayerEntry> entries) {
        TreeMap<String, LayerEntry> byPath = new TreeMap<>(LayerPaths::compare);
        for (LayerEntry entry : entries) {
            String path = checkedName(entry.path(), entry);
            if (path.isEmpty()) {
                throw new IllegalArgumentException("the root directory cannot be a layer entry: " + entry);
            }
            LayerEntry clean = entry.withPath(path);
            if (entry.type() == EntryType.HARDLINK) {
                clean = clean.asHardlinkTo(checkedName(entry.linkTarget(), entry));
            }
            if (clean.type() == EntryType.FILE && clean.size() > 0 && clean.content() == null) {
                throw new IllegalArgumentException("file " + path + " has a size but no content");
            }
            if (byPath.put(path, clean) != null) {
                throw new IllegalArgumentException("duplicate layer entry: " + path);
            }
        }
        canonicalizeHardlinks(byPath);
        addParents(byPath);
        return new ArrayList<>(byPath.values());
    }

    private static String checkedName(String name, LayerEntry entry) {
        if (LayerPaths.hasDotDot(name)) {
            throw new IllegalArgumentException("layer entry names must not contain '..': " + entry);
        }
        return LayerPaths.clean(name);
    }

    /**
     * A hardlink entry needs its target earlier in the tar. Sorting can put a link before the file
     * it points at, so within each group the first name in tar order carries the content and every
     * other name links to it. Links to files not in this layer are left alone (they point into a
     * lower layer).
     */
    private static void canonicalizeHardlinks(TreeMap<String, LayerEntry> byPath) {
        Map<String, List<String>> groups = new LinkedHashMap<>();
        for (LayerEntry entry : byPath.values()) {
            if (entry.type() != EntryType.HARDLINK) {
                continue;
            }
            String root = entry.linkTarget();
            Set<String> seen = new HashSet<>();
            while (byPath.containsKey(root) && byPath.get(root).type() == EntryType.HARDLINK) {
                if (!seen.add(root)) {
                    throw new IllegalArgumentException("hardlink cycle through " + root);
                }
                root = byPath.get(root).linkTarget();
            }
            LayerEntry target = byPath.get(root);
            if (target == null) {
                continue;
            }
            if (target.type() == EntryType.DIRECTORY) {
                throw new IllegalArgumentException("hardlink " + entry.path() + " points at directory " + root);
            }
            groups.computeIfAbsent(root, r -> new ArrayList<>()).add(entry.path());
        }
        groups.forEach((root, links) -> {
            LayerEntry data = byPath.get(root);
            String first = root;
            for (String link : links) {
                if (LayerPaths.compare(link, first) < 0) {
                    first = link;
                }
            }
            byPath.put(first, data.withPath(first));
            for (String member : links) {
                if (!member.equals(first)) {
                    byPath.put(member, data.withPath(member).asHardlinkTo(first));
                }
            }
            if (!root.equals(first)) {
                byPath.put(root, data.asHardlinkTo(first));
            }
        });
    }

    private void addParents(TreeMap<String, LayerEntry> byPath) {
        for (String path : new ArrayList<>(byPath.keySet())) {
            for (String parent = LayerPaths.parent(path); !parent.isEmpty(); parent = LayerPaths.parent(parent)) {
                LayerEntry existing = byPath.get(parent);
                if (existing == null) {
                    byPath.put(parent, LayerEntry.directory(parent).withMtime(mtimes.syntheticTime()));
                } else if (existing.type() != EntryType.DIRECTORY) {
                    throw new IllegalArgumentException(path + " is below " + existing + ", which is not a directory");
                } else {
                    break; // its own parents were handled when it was visited, or will be
                }
            }
        }
    }

    private TarArchiveEntry header(LayerEntry entry) {
        String name = entry.path();
        TarArchiveEntry tar = switch (entry.type()) {
            case FILE -> new TarArchiveEntry(name, TarConstants.LF_NORMAL);
            case DIRECTORY -> new TarArchiveEntry(name + "/", TarConstants.LF_DIR);
            case SYMLINK -> new TarArchiveEntry(name, TarConstants.LF_SYMLINK);
            case HARDLINK -> new TarArchiveEntry(name, TarConstants.LF_LINK);
            case CHAR_DEVICE -> new TarArchiveEntry(name, TarConstants.LF_CHR);
            case BLOCK_DEVICE -> new TarArchiveEntry(name, TarConstants.LF_BLK);
            case FIFO -> new TarArchiveEntry(name, TarConstants.LF_FIFO);
        };
        // Only permission bits, as GNU tar and Go's archive/tar write them; the type is the flag.
        tar.setMode(entry.mode() & 07777);
        tar.setUserId(entry.uid());
        tar.setGroupId(entry.gid());
        // The library defaults the user name to the JVM's user; names would make layers differ
        // between machines, and extractors use the numeric ids anyway.
        tar.setUserName("");
        tar.setGroupName("");
        tar.setModTime(FileTime.from(mtimes.apply(entry.mtime())));
        if (entry.type() == EntryType.FILE) {
            tar.setSize(entry.size());
        }
        if (entry.type() == EntryType.SYMLINK || entry.type() == EntryType.HARDLINK) {
            tar.setLinkName(entry.linkTarget());
        }
        if (entry.type() == EntryType.CHAR_DEVICE || entry.type() == EntryType.BLOCK_DEVICE) {
            tar.setDevMajor(entry.devMajor());
            tar.setDevMinor(entry.devMinor());
        }
        entry.xattrs().forEach((key, value) -> tar.addPaxHeader("SCHILY.xattr." + key, utf8(entry, key, value)));
        return tar;
    }

    /**
     * commons-compress encodes PAX values as UTF-8 text, so a binary value (for instance
     * {@code security.capability}) cannot be carried byte for byte; refuse it rather than corrupt it.
     */
    private static String utf8(LayerEntry entry, String key, byte[] value) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(value)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("xattr " + key + " of " + entry.path()
                    + " is binary; only UTF-8 xattr values can be written");
        }
    }

    /** Streams exactly the size recorded in the header; a file that changed size is an error. */
    private static void copyContent(LayerEntry entry, OutputStream tar, byte[] buffer) throws IOException {
        try (InputStream in = Files.newInputStream(entry.content(), LinkOption.NOFOLLOW_LINKS)) {
            long remaining = entry.size();
            while (remaining > 0) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, remaining));
                if (n < 0) {
                    throw new IOException(entry.content() + " shrank while being written as " + entry.path()
                            + ": expected " + entry.size() + " bytes");
                }
                tar.write(buffer, 0, n);
                remaining -= n;
            }
            if (in.read() >= 0) {
                throw new IOException(entry.content() + " grew while being written as " + entry.path()
                        + ": expected " + entry.size() + " bytes");
            }
        }
    }
}
