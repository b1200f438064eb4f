package dev.kiln.builder.rootfs;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/** Small filesystem operations that never follow symlinks. */
public final class Trees {
    private Trees() {
    }

    /** lstat, or null when nothing is there. */
    static BasicFileAttributes lstat(Path path) throws IOException {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException | java.nio.file.NotDirectoryException e) {
            return null;
        }
    }

    /**
     * Deletes a file, symlink or whole directory tree. Symlinks are removed, never followed, so a
     * link to {@code /} inside the rootfs costs the link and nothing else.
     */
    public static void deleteTree(Path path) throws IOException {
        BasicFileAttributes attributes = lstat(path);
        if (attributes == null) {
            return;
        }
        if (!attributes.isDirectory()) {
            Files.delete(path);
            return;
        }
        Files.walkFileTree(path, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                // an unprivileged extractor still has to empty directories a layer made read-only
                if (!Files.isWritable(dir)) {
                    Files.setAttribute(dir, "unix:mode", 0700);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                // a directory without read permission (overlayfs leaves its work/work at mode 000)
                // fails before preVisitDirectory could open it up
                BasicFileAttributes attributes = lstat(file);
                if (e instanceof AccessDeniedException && attributes != null && attributes.isDirectory()
                        && !Files.isReadable(file)) {
                    Files.setAttribute(file, "unix:mode", 0700); // chmod(2): the lstat above saw a directory
                    deleteTree(file);
                    return FileVisitResult.CONTINUE;
                }
                throw e;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /**
     * {@link #deleteTree} that leaves alone every path {@code keep} accepts, with everything below
     * it, and so also the directories leading to it. A kept path is never entered: a mount point
     * keeps what is mounted there.
     *
     * @return true when nothing is left at {@code path}
     */
    public static boolean deleteTreeKeeping(Path path, Predicate<Path> keep) throws IOException {
        BasicFileAttributes attributes = lstat(path);
        if (attributes == null) {
            return true;
        }
        if (keep.test(path)) {
            return false;
        }
        if (!attributes.isDirectory()) {
            Files.delete(path);
            return true;
        }
        if (!Files.isWritable(path)) {
            Files.setAttribute(path, "unix:mode", 0700);
        }
        boolean emptied = true;
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(path)) {
            stream.forEach(children::add);
        }
        for (Path child : children) {
            emptied &= deleteTreeKeeping(child, keep);
        }
        if (emptied) {
            Files.delete(path);
        }
        return emptied;
    }

    /** True when the effective user is root, whose privileges extraction needs for chown and mknod. */
    public static boolean runningAsRoot() {
        try {
            // /proc/self belongs to the process's effective uid
            return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return false;
        }
    }

    /** {@link #deleteTree} for clean-up paths, where a failure must not hide the error being reported. */
    public static void deleteQuietly(Path path) {
        try {
            deleteTree(path);
        } catch (IOException | RuntimeException ignored) {
            // best effort: what is left is a temp folder, not part of any result
        }
    }
}
