package dev.kiln.builder.steps;

import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.Elapsed;
import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.InvalidDigestException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/** {@code ADD URL}'s downloads, once per build: the cache key reads the file, then ADD copies it. */
public final class UrlDownloads {
    private final Path buildDir;
    private final Consumer<BuildEvent> events;
    private final Map<String, Path> done = new HashMap<>();

    UrlDownloads(Path buildDir, Consumer<BuildEvent> events) {
        this.buildDir = buildDir;
        this.events = events;
    }

    /** The downloaded file, named as the URL's last path segment ({@code index.html} without one), mode 0600. */
    public synchronized Path download(String url) throws IOException, BuildException {
        Path file = done.get(url);
        if (file != null) {
            return file;
        }
        String name = URI.create(url).getPath();
        name = name == null || name.isEmpty() || name.endsWith("/") ? "index.html" : name.substring(name.lastIndexOf('/') + 1);
        Path dir = Files.createTempDirectory(Files.createDirectories(buildDir.resolve("downloads")), "add-");
        file = dir.resolve(name);
        long t0 = System.nanoTime();
        try {
            HttpResponse<Path> response = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).build()
                    .send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofFile(file));
            if (response.statusCode() != 200) {
                throw new BuildException("downloading " + url + ": HTTP " + response.statusCode());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BuildException("interrupted");
        }
        Files.setAttribute(file, "unix:mode", 0600);
        events.accept(BuildEvent.Message.info("downloaded " + url + ": " + Files.size(file) + " bytes ("
                + Elapsed.since(t0) + ")"));
        done.put(url, file);
        return file;
    }

    /**
     * {@code ADD --checksum=DIGEST URL}: the download, if its content has that digest. A mismatch
     * fails the step naming both digests, and the file is dropped, so nothing of it is kept.
     */
    public synchronized Path download(String url, String checksum) throws IOException, BuildException {
        Path file = download(url);
        if (checksum == null || checksum.isEmpty()) {
            return file;
        }
        Digest expected = expected(checksum);
        Digest actual;
        try (InputStream in = Files.newInputStream(file)) {
            actual = Digester.digest(in, expected.algorithm());
        }
        if (!actual.equals(expected)) {
            done.remove(url);
            Files.deleteIfExists(file);
            throw new BuildException("checksum mismatch for " + url + ": expected " + expected + ", downloaded " + actual);
        }
        return file;
    }

    /** The digest {@code --checksum} names: {@code sha256:} or {@code sha512:} and its hex, as BuildKit takes it. */
    static Digest expected(String checksum) throws BuildException {
        try {
            return Digest.parse(checksum);
        } catch (InvalidDigestException e) {
            throw new BuildException("invalid --checksum " + checksum + ": " + e.getMessage()
                    + " (expected sha256:<64 hex digits> or sha512:<128 hex digits>)");
        }
    }

    /** The downloaded file's content digest, for the cache key; the checksum is verified first. */
    public String digest(String url, String checksum) throws IOException, BuildException {
        try (InputStream in = Files.newInputStream(download(url, checksum))) {
            return Digester.digest(in, "sha256").toString();
        }
    }
}
