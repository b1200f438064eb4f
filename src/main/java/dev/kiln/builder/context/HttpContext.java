package dev.kiln.builder.context;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/** {@code https://…/context.tar.gz} (or {@code http://} with {@code --insecure}): downloaded to disk, then unpacked. */
record HttpContext(URI url, Downloads downloads, Consumer<String> warnings, Consumer<String> debug) implements ContextSource {

    @Override
    public Path materialize(Path workDir) throws IOException {
        return downloadAndUnpack(downloads, url, Map.of(), description(), "build context", workDir, warnings, debug);
    }

    /** Streams the tar at {@code url} to disk, unpacks it into {@code workDir/context}, removes the download. */
    static Path downloadAndUnpack(Downloads downloads, URI url, Map<String, String> headers, String description,
                                  String what, Path workDir, Consumer<String> warnings, Consumer<String> debug) throws IOException {
        Path tar = workDir.resolve("context.download");
        long t0 = System.nanoTime();
        long bytes = downloads.download(url, headers, tar, what);
        debug.accept(String.format(Locale.ROOT, "downloaded build context %s: %d bytes (%.2fs)",
                description, bytes, (System.nanoTime() - t0) / 1e9));
        try {
            return TarContext.unpack(description, Files.newInputStream(tar), workDir.resolve("context"), warnings);
        } finally {
            Files.deleteIfExists(tar);
        }
    }

    @Override
    public String description() {
        return Downloads.redacted(url);
    }
}
