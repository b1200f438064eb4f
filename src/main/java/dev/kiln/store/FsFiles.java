package dev.kiln.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.Set;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

/** File operations that keep the store crash-safe: temp file, fsync, atomic rename, fsync the directory. */
public final class FsFiles {
    private static final boolean POSIX = java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    private static final FileAttribute<?>[] DIR = POSIX
            ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"))}
            : new FileAttribute<?>[0];
    private static final FileAttribute<?>[] FILE = POSIX
            ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))}
            : new FileAttribute<?>[0];

    private FsFiles() {
    }

    /**
     * Like {@link Files#createDirectories}, but what it creates is the gateway's alone (0700): build
     * args, uploads and private images must not be readable by other local users. A umask can only
     * take bits away, so this holds whatever the process's umask is.
     */
    public static Path createDirectories(Path dir) throws IOException {
        return Files.createDirectories(dir, DIR);
    }

    /** Creates a new empty file that only the gateway may read (0600). */
    public static Path createFile(Path file) throws IOException {
        return Files.createFile(file, FILE);
    }

    /** Opens a new file (0600) for writing; fails when it exists. */
    public static FileChannel createChannel(Path file) throws IOException {
        return FileChannel.open(file, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), FILE);
    }

    /** Makes an existing file the gateway's alone (0600). */
    public static void makeFilePrivate(Path file) throws IOException {
        if (POSIX) {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        }
    }

    /** Makes an existing directory, such as the store's root, the gateway's alone. */
    public static void makePrivate(Path dir) throws IOException {
        if (POSIX) {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        }
    }

    /** Positional reads of {@code file} through one channel; an unlinked file stays readable until closed. */
    public static PositionalReader positionalReader(Path file) throws IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        return new PositionalReader() {
            @Override
            public int read(ByteBuffer target, long position) throws IOException {
                return channel.read(target, position);
            }

            @Override
            public void close() throws IOException {
                channel.close();
            }
        };
    }

    static void atomicWrite(Path target, String content) throws IOException {
        atomicWrite(target, content.getBytes(StandardCharsets.UTF_8));
    }

    public static void atomicWrite(Path target, byte[] content) throws IOException {
        atomicWrite(target, content, true);
    }

    /**
     * Replaces {@code target} by {@code content} atomically (readers see the old file or the new one),
     * and with {@code durable} makes it survive a crash (fsync of the file and its directory). Without,
     * a crash may leave the previous version: for a file rewritten often whose next durable write
     * soon follows, where two fsyncs per write would cost more than the write.
     */
    public static void atomicWrite(Path target, byte[] content, boolean durable) throws IOException {
        Path dir = target.getParent();
        createDirectories(dir);
        Path temp = dir.resolve(".tmp-" + UUID.randomUUID());
        try {
            try (FileChannel channel = createChannel(temp)) {
                ByteBuffer buffer = ByteBuffer.wrap(content);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                if (durable) {
                    channel.force(true);
                }
            } catch (IOException e) {
                throw new StoreWriteException("could not write " + target.getFileName() + ": " + e.getMessage(), e);
            }
            if (durable) {
                moveAtomically(temp, target);
            } else {
                renameAtomically(temp, target);
            }
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    public static void moveAtomically(Path source, Path target) throws IOException {
        renameAtomically(source, target);
        fsyncDirectory(target.getParent());
    }

    /** Like {@link #moveAtomically}, without making the rename durable. */
    public static void renameAtomically(Path source, Path target) throws IOException {
        try {
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the store must live on one filesystem that supports atomic rename: " + e.getMessage(), e);
        }
    }

    static void fsyncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException ignored) {
            // Some filesystems refuse to open directories; the rename itself is still atomic there.
        }
    }

    static Optional<String> readString(Path file) throws IOException {
        try {
            return Optional.of(Files.readString(file, StandardCharsets.UTF_8).trim());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(path);
            }
        }
    }

    /** Deletes the files directly in {@code dir} not modified within {@code age}: temp files of writers that died with their process. */
    public static int deleteFilesOlderThan(Path dir, java.time.Duration age) throws IOException {
        int removed = 0;
        java.time.Instant cutoff = java.time.Instant.now().minus(age);
        try (java.nio.file.DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path file : files) {
                try {
                    if (Files.getLastModifiedTime(file).toInstant().isBefore(cutoff) && Files.deleteIfExists(file)) {
                        removed++;
                    }
                } catch (NoSuchFileException ignored) {
                    // finished or aborted meanwhile
                }
            }
        }
        return removed;
    }

    /** Removes empty directories from {@code dir} up to (not including) {@code stop}. */
    static void pruneEmptyParents(Path dir, Path stop) {
        for (Path current = dir; current != null && !current.equals(stop) && current.startsWith(stop); current = current.getParent()) {
            try {
                Files.delete(current);
            } catch (DirectoryNotEmptyException | NoSuchFileException e) {
                return;
            } catch (IOException e) {
                return;
            }
        }
    }
}
