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
    public static BasicFileAttributes lstat(Path path) throws IOException {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException | java.nio.file.NotDirectoryException e) {
            return null;
        }
    }

    /**
     * Deletes a file, symlink or whole directory tree. Symlinks are removed, never followed, so a
     * link to {@code /} inside the rootfs costs the link and nothing else. An entry that vanishes
     * meanwhile is not an error: the gateway removes a build's work dir while the build's own
     * deferred deletion may still be emptying it, and gone is what both want.
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
                    try {
                        Files.setAttribute(dir, "unix:mode", 0700);
                    } catch (NoSuchFileException gone) {
                        return FileVisitResult.SKIP_SUBTREE;
                    }
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
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw e;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null && !(e instanceof NoSuchFileException)) {
                    throw e;
                }
                Files.deleteIfExists(dir);
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

    /**
     * Makes a FIFO at {@code target} (absent) with {@code source}'s mode, owner (when root) and mtime,
     * all by path: Java cannot make a FIFO, and opening one (as {@code Files.copy} or a time-setting
     * attribute view does) blocks until a writer comes.
     */
    public static void copyFifo(Path source, Path target) throws IOException {
        java.util.Map<String, Object> a = Files.readAttributes(source, "unix:mode,uid,gid,lastModifiedTime",
                java.nio.file.LinkOption.NOFOLLOW_LINKS);
        mkfifo(target);
        if (runningAsRoot()) {
            Files.setAttribute(target, "unix:uid", a.get("uid"), java.nio.file.LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(target, "unix:gid", a.get("gid"), java.nio.file.LinkOption.NOFOLLOW_LINKS);
        }
        // following links is chmod(2) by path; NOFOLLOW_LINKS would open the FIFO (a fresh one, not a link)
        Files.setAttribute(target, "unix:mode", (Integer) a.get("mode") & 07777);
        setFifoMtime(target, (java.nio.file.attribute.FileTime) a.get("lastModifiedTime"));
    }

    /** Makes a FIFO at {@code target}, which must be absent. */
    public static void mkfifo(Path target) throws IOException {
        run(java.util.List.of("mkfifo", "--", target.toString()));
    }

    /** Sets a FIFO's mtime by path (coreutils' touch), never opening it. */
    public static void setFifoMtime(Path target, java.nio.file.attribute.FileTime mtime) throws IOException {
        java.time.Instant t = mtime.toInstant();
        run(java.util.List.of("touch", "-h", "-m", "-d", "@" + t.getEpochSecond() + "." + String.format("%09d", t.getNano()),
                "--", target.toString()));
    }

    private static void run(java.util.List<String> command) throws IOException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        process.getOutputStream().close();
        String output = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        try {
            if (process.waitFor() != 0) {
                throw new IOException(String.join(" ", command) + " failed: " + output.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while running " + command.get(0));
        }
    }
}
