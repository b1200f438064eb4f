package dev.kiln.store;

import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.InvalidDigestException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;

/** Blobs as files under {@code blobs/<algorithm>/<2 hex>/<hex>}, written through {@code tmp/}. */
public final class FsBlobStore implements BlobStore {
    private final Path blobs;
    private final Path tmp;

    public FsBlobStore(Path root) throws IOException {
        this.blobs = root.resolve("blobs");
        this.tmp = root.resolve("tmp");
        FsFiles.createDirectories(blobs);
        FsFiles.createDirectories(tmp);
    }

    Path pathOf(Digest digest) {
        return blobs.resolve(digest.algorithm()).resolve(digest.hex().substring(0, 2)).resolve(digest.hex());
    }

    Path tmpDir() {
        return tmp;
    }

    @Override
    public Optional<BlobInfo> stat(Digest digest) throws IOException {
        try {
            BasicFileAttributes attributes = Files.readAttributes(pathOf(digest), BasicFileAttributes.class);
            return Optional.of(new BlobInfo(digest, attributes.size(), attributes.lastModifiedTime().toInstant()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public InputStream open(Digest digest, long offset) throws IOException {
        FileChannel channel;
        try {
            channel = FileChannel.open(pathOf(digest), StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new BlobNotFoundException(digest);
        }
        channel.position(offset);
        return Channels.newInputStream(channel);
    }

    @Override
    public BlobBody body(Digest digest, long offset, long length) throws IOException {
        return new BlobBody.FileRegion(readableFile(digest), offset, length);
    }

    @Override
    public Path readableFile(Digest digest) throws IOException {
        Path path = pathOf(digest);
        if (!Files.isRegularFile(path)) {
            throw new BlobNotFoundException(digest);
        }
        return path;
    }

    @Override
    public BlobWriter newWriter() throws IOException {
        return new FsBlobWriter((file, digest, size) -> adopt(file, digest), tmp.resolve(UUID.randomUUID().toString()));
    }

    /**
     * A hard link when {@code file} is on the store's filesystem, so no bytes are copied; the link is
     * verified and synced like any upload before it becomes visible. Elsewhere, a copy.
     */
    @Override
    public boolean insert(Path file, Digest expected) throws IOException {
        if (exists(expected)) {
            touch(expected);
            return false;
        }
        Path link = tmp.resolve(UUID.randomUUID().toString());
        try {
            Files.createLink(link, file);
        } catch (IOException | UnsupportedOperationException otherFilesystem) {
            return BlobStore.super.insert(file, expected);
        }
        try {
            Digest actual;
            try (FileChannel channel = FileChannel.open(link, StandardOpenOption.READ)) {
                channel.force(true);
                actual = Digester.digest(Channels.newInputStream(channel), expected.algorithm());
            }
            if (!actual.equals(expected)) {
                throw new DigestMismatchException(expected, actual, Files.size(link));
            }
            adopt(link, expected);
            touch(expected);
            return true;
        } finally {
            Files.deleteIfExists(link);
        }
    }

    /**
     * Makes an already verified temp file the blob {@code digest}. When the blob exists the temp file is
     * dropped and the existing one touched: equal digests mean equal bytes.
     */
    void adopt(Path verifiedFile, Digest digest) throws IOException {
        Path target = pathOf(digest);
        if (Files.exists(target)) {
            try {
                touch(digest);
                Files.deleteIfExists(verifiedFile);
                return;
            } catch (BlobNotFoundException retiredMeanwhile) {
                // garbage collection took it since: these verified bytes become the blob again
            }
        }
        FsFiles.createDirectories(target.getParent());
        FsFiles.makeFilePrivate(verifiedFile); // a builder's layer file comes with its umask's mode
        FsFiles.moveAtomically(verifiedFile, target);
    }

    @Override
    public boolean delete(Digest digest) throws IOException {
        Path path = pathOf(digest);
        boolean deleted = Files.deleteIfExists(path);
        if (deleted) {
            FsFiles.pruneEmptyParents(path.getParent(), blobs);
        }
        return deleted;
    }

    private Path retiredPath(Digest digest) {
        return blobs.resolveSibling("gc-retired").resolve(digest.algorithm() + "-" + digest.hex());
    }

    @Override
    public boolean retire(Digest digest, Instant cutoff) throws IOException {
        Path retired = retiredPath(digest);
        FsFiles.createDirectories(retired.getParent());
        try {
            Files.move(pathOf(digest), retired, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException e) {
            return false;
        }
        // A touch that came in before the move shows here, on the moved file; one after it failed.
        if (!Files.getLastModifiedTime(retired).toInstant().isBefore(cutoff)) {
            restore(digest);
            return false;
        }
        return true;
    }

    @Override
    public void restore(Digest digest) throws IOException {
        Path retired = retiredPath(digest);
        Path target = pathOf(digest);
        if (Files.exists(target)) {
            Files.deleteIfExists(retired);
            return;
        }
        FsFiles.createDirectories(target.getParent());
        try {
            Files.move(retired, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException e) {
            // purged or restored already
        }
    }

    @Override
    public void purge(Digest digest) throws IOException {
        Files.deleteIfExists(retiredPath(digest));
        FsFiles.pruneEmptyParents(pathOf(digest).getParent(), blobs);
    }

    @Override
    public java.util.List<Digest> retired() throws IOException {
        Path dir = blobs.resolveSibling("gc-retired");
        java.util.List<Digest> digests = new java.util.ArrayList<>();
        if (Files.isDirectory(dir)) {
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                for (Path file : files) {
                    String[] parts = file.getFileName().toString().split("-", 2);
                    if (parts.length == 2 && Digest.isDigest(parts[0] + ":" + parts[1])) {
                        digests.add(Digest.parse(parts[0] + ":" + parts[1]));
                    }
                }
            }
        }
        return digests;
    }

    @Override
    public void touch(Digest digest) throws IOException {
        try {
            Files.setLastModifiedTime(pathOf(digest), FileTime.from(Instant.now()));
        } catch (NoSuchFileException e) {
            throw new BlobNotFoundException(digest);
        }
    }

    @Override
    public void forEach(Consumer<BlobInfo> action) throws IOException {
        if (!Files.isDirectory(blobs)) {
            return;
        }
        try (DirectoryStream<Path> algorithms = Files.newDirectoryStream(blobs)) {
            for (Path algorithmDir : algorithms) {
                try (DirectoryStream<Path> prefixes = Files.newDirectoryStream(algorithmDir)) {
                    for (Path prefixDir : prefixes) {
                        try (DirectoryStream<Path> files = Files.newDirectoryStream(prefixDir)) {
                            for (Path file : files) {
                                Digest digest;
                                try {
                                    digest = new Digest(algorithmDir.getFileName().toString(), file.getFileName().toString());
                                } catch (InvalidDigestException e) {
                                    continue; // not a blob: a stray file left by hand
                                }
                                BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
                                action.accept(new BlobInfo(digest, attributes.size(), attributes.lastModifiedTime().toInstant()));
                            }
                        }
                    }
                }
            }
        }
    }

    @Override
    public void quarantine(Digest digest) throws IOException {
        Path quarantine = blobs.resolveSibling("quarantine");
        FsFiles.createDirectories(quarantine);
        Path source = pathOf(digest);
        FsFiles.moveAtomically(source, quarantine.resolve(digest.algorithm() + "-" + digest.hex() + "-" + System.currentTimeMillis()));
        FsFiles.pruneEmptyParents(source.getParent(), blobs);
    }

    @Override
    public int removeStaleTempFiles(Duration age) throws IOException {
        return FsFiles.deleteFilesOlderThan(tmp, age);
    }
}
