package dev.kiln.builder.exec;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/** What ADD unpacks: a local tar, plain or compressed, recognised by its content (BuildKit's rule). */
final class AddArchive {

    private AddArchive() {
    }

    /**
     * Whether ADD unpacks {@code src}: a tar, plain or compressed with gzip, bzip2, xz or zstd,
     * recognised by its content whatever its name, as BuildKit does. A compressed file that is not
     * a tar inside is copied as it is.
     */
    static boolean isArchive(Path src) throws IOException {
        if (!Files.isRegularFile(src, LinkOption.NOFOLLOW_LINKS)) {
            return false; // only a regular file is ever opened: a FIFO would block
        }
        try (InputStream in = decompressed(src)) {
            byte[] header = new byte[512];
            return in.readNBytes(header, 0, header.length) == header.length && isTarHeader(header);
        } catch (IOException corrupt) {
            return false; // compressed garbage is a file like any other
        }
    }

    /** {@code src} decompressed by what its first bytes say it is; a stream of any other kind as it is. */
    static InputStream decompressed(Path src) throws IOException {
        InputStream raw = new java.io.BufferedInputStream(Files.newInputStream(src), 64 * 1024);
        try {
            raw.mark(6);
            byte[] magic = raw.readNBytes(6);
            raw.reset();
            return switch (ArchiveCompression.of(magic)) {
                case GZIP -> new org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream(raw, true);
                case BZIP2 -> new org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream(raw, true);
                case XZ -> new org.apache.commons.compress.compressors.xz.XZCompressorInputStream(raw, true);
                case ZSTD -> new org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream(raw);
                case NONE -> raw;
            };
        } catch (IOException | RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    /** The compressions ADD recognises, by their magic numbers (as BuildKit's and Docker's archive code). */
    enum ArchiveCompression {
        NONE, GZIP, BZIP2, XZ, ZSTD;

        static ArchiveCompression of(byte[] m) {
            if (starts(m, 0x1f, 0x8b)) {
                return GZIP;
            }
            if (starts(m, 'B', 'Z', 'h')) {
                return BZIP2;
            }
            if (starts(m, 0xfd, '7', 'z', 'X', 'Z', 0x00)) {
                return XZ;
            }
            if (starts(m, 0x28, 0xb5, 0x2f, 0xfd)) {
                return ZSTD;
            }
            return NONE;
        }

        private static boolean starts(byte[] m, int... magic) {
            if (m.length < magic.length) {
                return false;
            }
            for (int i = 0; i < magic.length; i++) {
                if ((m[i] & 0xff) != magic[i]) {
                    return false;
                }
            }
            return true;
        }
    }

    /** A tar header block: its checksum (field at 148, octal) is the sum of its bytes with that field as spaces. */
    static boolean isTarHeader(byte[] block) {
        String field = new String(block, 148, 8, java.nio.charset.StandardCharsets.US_ASCII).replace('\0', ' ').trim();
        if (field.isEmpty() || !field.chars().allMatch(ch -> ch >= '0' && ch <= '7')) {
            return false;
        }
        long sum = 0;
        for (int i = 0; i < block.length; i++) {
            sum += i >= 148 && i < 156 ? ' ' : block[i] & 0xff;
        }
        return sum == Long.parseLong(field, 8);
    }
}
