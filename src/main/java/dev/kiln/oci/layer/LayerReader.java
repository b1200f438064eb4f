package dev.kiln.oci.layer;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;

/**
 * Iterates the entries of a layer, whatever its compression (recognised by magic bytes: gzip,
 * zstd, or plain tar). Entry names are returned as stored, uncleaned, so that whoever applies
 * them can judge them; the current regular file's bytes are read from {@link #content()}.
 */
public final class LayerReader implements Closeable {
    private static final String SCHILY_XATTR = "SCHILY.xattr.";
    private static final String LIBARCHIVE_XATTR = "LIBARCHIVE.xattr.";

    private final TarArchiveInputStream tar;
    private final Compression.Algorithm compression;
    private LayerEntry current;

    private LayerReader(TarArchiveInputStream tar, Compression.Algorithm compression) {
        this.tar = tar;
        this.compression = compression;
    }

    public static LayerReader open(Path layer) throws IOException {
        return open(Files.newInputStream(layer));
    }

    /** Takes ownership of {@code in}: closing the reader closes it. */
    public static LayerReader open(InputStream in) throws IOException {
        BufferedInputStream buffered = new BufferedInputStream(in, 64 * 1024);
        buffered.mark(4);
        byte[] head = buffered.readNBytes(4);
        buffered.reset();
        Compression.Algorithm algorithm = Compression.Algorithm.sniff(head, head.length);
        InputStream plain = switch (algorithm) {
            // Multi-member gzip is legal and some tools write it.
            case GZIP -> new GzipCompressorInputStream(buffered, true);
            case ZSTD -> new ZstdCompressorInputStream(buffered);
            case NONE -> buffered;
        };
        return new LayerReader(new TarArchiveInputStream(plain, StandardCharsets.UTF_8.name()), algorithm);
    }

    public Compression.Algorithm compression() {
        return compression;
    }

    /** The next entry, or null at the end of the layer. */
    public LayerEntry next() throws IOException {
        TarArchiveEntry entry;
        do {
            entry = tar.getNextEntry();
            if (entry == null) {
                current = null;
                return null;
            }
        } while (entry.isGlobalPaxHeader());
        current = toEntry(entry);
        return current;
    }

    /**
     * The content of the entry last returned by {@link #next()}; empty for anything but a regular
     * file. Valid until the next call to {@code next()}; closing it does not close the layer.
     */
    public InputStream content() {
        if (current == null || current.type() != EntryType.FILE) {
            return InputStream.nullInputStream();
        }
        return new InputStream() {
            @Override
            public int read() throws IOException {
                return tar.read();
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return tar.read(b, off, len);
            }

            @Override
            public void close() {
                // the archive stays open for the next entry
            }
        };
    }

    /** An entry as a reader sees it; {@link LayerWriter} asks too, for what it writes. */
    static LayerEntry toEntry(TarArchiveEntry entry) throws IOException {
        EntryType type;
        if (entry.isDirectory()) {
            type = EntryType.DIRECTORY;
        } else if (entry.isSymbolicLink()) {
            type = EntryType.SYMLINK;
        } else if (entry.isLink()) {
            type = EntryType.HARDLINK;
        } else if (entry.isCharacterDevice()) {
            type = EntryType.CHAR_DEVICE;
        } else if (entry.isBlockDevice()) {
            type = EntryType.BLOCK_DEVICE;
        } else if (entry.isFIFO()) {
            type = EntryType.FIFO;
        } else if (entry.isFile()) {
            type = EntryType.FILE;
        } else {
            throw new IOException("unsupported tar entry type '" + (char) entry.getLinkFlag() + "' for " + entry.getName());
        }
        String name = entry.getName();
        if (name.length() > 1 && name.endsWith("/")) {
            name = name.substring(0, name.length() - 1);
        }
        boolean devices = type == EntryType.CHAR_DEVICE || type == EntryType.BLOCK_DEVICE;
        return new LayerEntry(name, type, entry.getMode() & 07777, entry.getLongUserId(), entry.getLongGroupId(),
                entry.getLastModifiedTime().toInstant(), type == EntryType.FILE ? entry.getSize() : 0,
                type == EntryType.SYMLINK || type == EntryType.HARDLINK ? entry.getLinkName() : null,
                devices ? entry.getDevMajor() : 0, devices ? entry.getDevMinor() : 0,
                xattrs(entry), null);
    }

    /** GNU tar and star write {@code SCHILY.xattr.name=value}; libarchive base64-encodes. */
    private static Map<String, byte[]> xattrs(TarArchiveEntry entry) {
        Map<String, byte[]> xattrs = new TreeMap<>();
        entry.getExtraPaxHeaders().forEach((key, value) -> {
            if (key.startsWith(SCHILY_XATTR)) {
                xattrs.put(key.substring(SCHILY_XATTR.length()), value.getBytes(StandardCharsets.UTF_8));
            } else if (key.startsWith(LIBARCHIVE_XATTR)) {
                String name = URLDecoder.decode(key.substring(LIBARCHIVE_XATTR.length()), StandardCharsets.UTF_8);
                xattrs.putIfAbsent(name, Base64.getDecoder().decode(value.strip()));
            }
        });
        return xattrs;
    }

    @Override
    public void close() throws IOException {
        tar.close();
    }
}
