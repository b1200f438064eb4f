package dev.kiln.builder.gateway;

import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerReader;
import dev.kiln.store.FsFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** An uploaded build context: a tar, plain or compressed, streamed to a file and checked before it is accepted. */
final class ContextUpload {
    private static final int BUFFER = 256 * 1024;

    private ContextUpload() {
    }

    /**
     * Copies {@code body} into a new {@code file}, refusing more than {@code limit} bytes; on any
     * failure the file is removed.
     */
    static long receive(InputStream body, Path file, long limit) throws IOException {
        boolean kept = false;
        try (OutputStream out = Files.newOutputStream(FsFiles.createFile(file), StandardOpenOption.WRITE)) {
            byte[] buffer = new byte[BUFFER];
            long total = 0;
            for (int n; (n = body.read(buffer)) >= 0; ) {
                total += n;
                if (total > limit) {
                    throw BuildRequestException.contextTooLarge(limit);
                }
                out.write(buffer, 0, n);
            }
            if (total == 0) {
                throw BuildRequestException.brokenContext("the request carries no build context: send a tar or tar.gz as the body");
            }
            kept = true;
            return total;
        } finally {
            if (!kept) {
                Files.deleteIfExists(file);
            }
        }
    }

    /**
     * Reads the whole archive once: it must be a readable tar (compression is detected) holding
     * {@code dockerfile}, a path relative to the context root.
     */
    static void check(Path archive, String dockerfile) {
        check(archive, dockerfile, Long.MAX_VALUE);
    }

    /**
     * The same, refusing an archive whose entries add up to more than {@code maxUnpacked} bytes
     * (tar headers included) as soon as the header that crosses the limit is read: a small gzip
     * that would expand to gigabytes is not decompressed further.
     */
    static void check(Path archive, String dockerfile, long maxUnpacked) {
        boolean found = false;
        int entries = 0;
        long unpacked = 0;
        try (LayerReader reader = LayerReader.open(archive)) {
            for (LayerEntry entry; (entry = reader.next()) != null; ) {
                entries++;
                unpacked += 512 + entry.size();
                if (unpacked > maxUnpacked) {
                    throw BuildRequestException.contextUnpacksTooLarge(maxUnpacked);
                }
                if (clean(entry.path()).equals(dockerfile)) {
                    found = true;
                }
                try (InputStream content = reader.content()) {
                    content.transferTo(OutputStream.nullOutputStream()); // a truncated archive fails here, not later
                }
            }
        } catch (BuildRequestException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw BuildRequestException.brokenContext("the build context is not a readable tar or tar.gz: "
                    + (e.getMessage() == null ? e.toString() : e.getMessage()));
        }
        if (entries == 0) {
            throw BuildRequestException.brokenContext("the build context is not a tar archive, or an empty one");
        }
        if (!found) {
            throw BuildRequestException.missingDockerfile("the build context has no " + dockerfile
                    + " (the dockerfile parameter is a path inside the context)");
        }
    }

    private static String clean(String entryName) {
        String name = entryName;
        while (name.startsWith("./") || name.startsWith("/")) {
            name = name.substring(name.startsWith("./") ? 2 : 1);
        }
        return name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
    }
}
