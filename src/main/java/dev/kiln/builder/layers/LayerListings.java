package dev.kiln.builder.layers;

import dev.kiln.oci.Digest;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerReader;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;

/**
 * The layer store's listings ({@link LayerListing}), one file per layer named by its DiffID under
 * {@code listings/}: a listing depends on the layer's tar only, never on what lies below it. Each
 * is written to a temporary name and renamed into place. They are small (tens of bytes a path)
 * and bounded as a whole: the least recently used go once they pass {@link #MAX_BYTES}.
 */
final class LayerListings {
    /** About a million paths' worth. */
    static final long MAX_BYTES = 64L << 20;

    private final Path dir;

    LayerListings(Path storeDir) throws IOException {
        this.dir = Files.createDirectories(storeDir.resolve("listings"));
    }

    /** The listing kept for the layer with this DiffID, or null; a damaged one counts as none. */
    LayerListing get(Digest diffId) {
        Path file = dir.resolve(diffId.hex());
        try {
            LayerListing listing = LayerListing.read(file);
            Files.setLastModifiedTime(file, FileTime.from(Instant.now()));
            return listing;
        } catch (IOException e) {
            return null; // none, or damaged: read off the blob again
        }
    }

    /** Keeps the listing of a layer a build just wrote. */
    void put(Digest diffId, List<LayerEntry> headers) throws IOException {
        save(diffId, LayerListing.of(headers));
        trim();
    }

    /** The listing of a layer read off its blob (no file of it is written anywhere but the listing). */
    LayerListing read(Digest diffId, Path blob) throws IOException {
        List<LayerEntry> entries = new ArrayList<>();
        try (LayerReader reader = LayerReader.open(blob)) {
            for (LayerEntry entry; (entry = reader.next()) != null; ) {
                entries.add(entry);
            }
        }
        LayerListing listing = LayerListing.of(entries);
        save(diffId, listing);
        trim();
        return listing;
    }

    private void save(Digest diffId, LayerListing listing) throws IOException {
        Path tmp = dir.resolve(".tmp-" + UUID.randomUUID());
        try {
            listing.write(tmp);
            Files.move(tmp, dir.resolve(diffId.hex()), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Drops the least recently used listings beyond the bound; one missing meanwhile is skipped. */
    private void trim() throws IOException {
        record Kept(Path file, long size, FileTime used) {
        }
        List<Kept> all = new ArrayList<>();
        long total = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path file : files) {
                if (file.getFileName().toString().startsWith(".tmp-")) {
                    continue; // being written
                }
                try {
                    Kept kept = new Kept(file, Files.size(file), Files.getLastModifiedTime(file));
                    all.add(kept);
                    total += kept.size();
                } catch (NoSuchFileException e) {
                    // another build trimmed it
                }
            }
        }
        if (total <= MAX_BYTES) {
            return;
        }
        all.sort(Comparator.comparing(Kept::used));
        for (Kept kept : all) {
            if (total <= MAX_BYTES) {
                break;
            }
            Files.deleteIfExists(kept.file());
            total -= kept.size();
        }
    }
}
