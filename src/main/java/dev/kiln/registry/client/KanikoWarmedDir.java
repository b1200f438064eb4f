package dev.kiln.registry.client;

import dev.kiln.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarFile;

/**
 * A {@code --cache-dir} filled by kaniko's warmer, read as a {@link BlobCache.Seed}. kaniko writes
 * each image as {@code sha256:<manifest digest>}, an image tarball (its config as the entry
 * {@code sha256:<hex>}, each layer as {@code <hex>.tar.gz}, named by the compressed layer's digest),
 * and the manifest beside it as {@code sha256:<manifest digest>.json}. Entries are copied into the
 * blob cache only through {@link BlobCache#put}, so a file that does not match its name is refused.
 */
public final class KanikoWarmedDir implements BlobCache.Seed {
    private static final Pattern IMAGE = Pattern.compile("sha256:([0-9a-f]{64})");
    private static final Pattern MANIFEST = Pattern.compile("sha256:([0-9a-f]{64})\\.json");
    private static final Pattern CONFIG_ENTRY = Pattern.compile("(?:.*/)?sha256:([0-9a-f]{64})");
    private static final Pattern LAYER_ENTRY = Pattern.compile("(?:.*/)?([0-9a-f]{64})\\.tar(?:\\.gz)?");

    private record Location(Path file, String entry) {
    }

    private final Path dir;
    private Map<Digest, Location> index;

    public KanikoWarmedDir(Path dir) {
        this.dir = dir;
    }

    /** Whether {@code dir} holds anything kaniko's warmer writes. */
    public static boolean looksWarmed(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.anyMatch(f -> MANIFEST.matcher(f.getFileName().toString()).matches());
        }
    }

    @Override
    public synchronized boolean seed(Digest digest, BlobCache cache) throws IOException {
        Location location = index().get(digest);
        if (location == null) {
            return false;
        }
        String what = "kaniko-warmed " + location.file().getFileName() + (location.entry() == null ? "" : " " + location.entry());
        if (location.entry() == null) {
            try (InputStream in = Files.newInputStream(location.file())) {
                cache.put(digest, -1, in, what);
            }
            return true;
        }
        try (TarFile tar = new TarFile(location.file())) {
            for (TarArchiveEntry entry : tar.getEntries()) {
                if (entry.getName().equals(location.entry())) {
                    try (InputStream in = tar.getInputStream(entry)) {
                        cache.put(digest, entry.getSize(), in, what);
                    }
                    return true;
                }
            }
        }
        return false;
    }

    /** Built once, on the first miss: listing a tarball reads only its headers. */
    private Map<Digest, Location> index() throws IOException {
        if (index != null) {
            return index;
        }
        Map<Digest, Location> found = new HashMap<>();
        List<Path> files;
        try (Stream<Path> listing = Files.isDirectory(dir) ? Files.list(dir) : Stream.empty()) {
            files = listing.sorted().toList();
        }
        for (Path file : files) {
            String name = file.getFileName().toString();
            Matcher manifest = MANIFEST.matcher(name);
            if (manifest.matches()) {
                found.put(Digest.parse("sha256:" + manifest.group(1)), new Location(file, null));
            } else if (IMAGE.matcher(name).matches() && Files.isRegularFile(file)) {
                indexTarball(file, found);
            }
        }
        index = found;
        return index;
    }

    private static void indexTarball(Path file, Map<Digest, Location> found) {
        try (TarFile tar = new TarFile(file)) {
            for (TarArchiveEntry entry : tar.getEntries()) {
                if (!entry.isFile()) {
                    continue;
                }
                Matcher config = CONFIG_ENTRY.matcher(entry.getName());
                Matcher layer = LAYER_ENTRY.matcher(entry.getName());
                String hex = config.matches() ? config.group(1) : layer.matches() ? layer.group(1) : null;
                if (hex != null) {
                    found.putIfAbsent(Digest.parse("sha256:" + hex), new Location(file, entry.getName()));
                }
            }
        } catch (IOException e) {
            // not a tarball after all: nothing of it is offered, and the registry is asked instead
        }
    }
}
