package dev.kiln.builder.layers;

import dev.kiln.builder.rootfs.IgnoredPaths;
import dev.kiln.builder.rootfs.Trees;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * An overlayfs mount of kept layers in this process's mount namespace, with {@code userxattr} so
 * the layers' whiteouts and opaque directories read as {@link dev.kiln.builder.rootfs.LayerDirIndex}
 * writes them. Only root (or CAP_SYS_ADMIN) can mount here.
 *
 * <p>Each mount is recorded in the store's {@code mounts/} before it is made (target, upper and
 * work directory, one a line), under an exclusive lock held while it stands: a process killed with
 * its rootfs mounted leaves a record nobody locks, and {@link #cleanUpAfterCrash} unmounts it when
 * the store is next opened, so a kept layer is never evicted from under a stale mount.
 */
final class OverlayMount {
    private static final System.Logger LOG = System.getLogger(OverlayMount.class.getName());
    /** mount(2) takes its options in one page. */
    private static final int MAX_OPTIONS = 4000;
    /** overlayfs's own limit on lower layers. */
    private static final int MAX_LOWERS = 500;

    /** The kernel or this process refused the mount; the message says why (mount(8)'s own words). */
    static final class RefusedException extends IOException {
        RefusedException(String message) {
            super(message);
        }
    }

    private final List<Path> lowers;
    private final Path upper;
    private final Path target;
    private final Path work;
    private final Path records;
    private final Path record;
    private final FileChannel recordChannel;

    private OverlayMount(List<Path> lowers, Path upper, Path target, Path work, Path records, Path record,
                         FileChannel recordChannel) {
        this.records = records;
        this.lowers = List.copyOf(lowers);
        this.upper = upper;
        this.target = target;
        this.work = work;
        this.record = record;
        this.recordChannel = recordChannel;
    }

    /** Mounts {@code lowers} (bottom first) under a new {@code upper} on {@code target}, recorded in {@code records}. */
    static OverlayMount mount(List<Path> lowers, Path upper, Path work, Path target, Path records) throws IOException {
        String options = options(lowers, upper, work);
        if (options.length() + ",index=on".length() > MAX_OPTIONS) {
            throw new RefusedException("the overlay's options for " + lowers.size() + " layers exceed one page");
        }
        Path record = records.resolve(UUID.randomUUID().toString());
        FileChannel channel = FileChannel.open(record, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        boolean mounted = false;
        try {
            channel.lock();
            String lines = String.join("\n", target.toRealPath().toString(), upper.toAbsolutePath().toString(),
                    work.toAbsolutePath().toString()) + "\n";
            channel.write(StandardCharsets.UTF_8.encode(lines));
            channel.force(true);
            Files.createDirectories(upper);
            Files.createDirectories(work);
            // the merged root shows the upper directory's mode, owner and mtime: the top layer's
            LowerMetadata.copy(lowers.get(lowers.size() - 1), upper);
            // index=on: a write to one name of a hardlinked lower file copies the inode up once, so every
            // name sees it, as on a copy of the layers (without it only the written name would change)
            String refusal = run(List.of("mount", "-t", "overlay", "overlay", "-o", options + ",index=on", target.toString()));
            if (refusal != null && run(List.of("mount", "-t", "overlay", "overlay", "-o", options, target.toString())) == null) {
                LOG.log(System.Logger.Level.DEBUG, "layer store: overlay on " + target + " without index=on: " + refusal);
                refusal = null;
            }
            if (refusal != null) {
                Trees.deleteQuietly(work);
                Trees.deleteQuietly(upper);
                throw new RefusedException(refusal);
            }
            mounted = true;
            return new OverlayMount(lowers, upper, target, work, records, record, channel);
        } finally {
            if (!mounted) {
                channel.close();
                Files.deleteIfExists(record);
            }
        }
    }

    /**
     * The same target mounted again with this mount's upper directory (if anything was written to it)
     * and {@code top} as its two new top layers under a new, empty upper directory: a RUN's overlay
     * upper directory becomes part of the rootfs without a file being copied, as a container
     * engine's layers stack. Null, with this mount still standing, where that cannot be done (too
     * many layers for mount(2)'s options, or the target is busy); the caller then copies.
     */
    OverlayMount restack(Path top) throws IOException {
        List<Path> next = new ArrayList<>(lowers);
        if (!empty(upper)) {
            next.add(upper);
        }
        next.add(top);
        int generation = lowers.size() + 1;
        Path nextUpper = target.resolveSibling(target.getFileName() + ".upper-" + generation + "-" + UUID.randomUUID());
        Path nextWork = target.resolveSibling(target.getFileName() + ".work-" + generation + "-" + UUID.randomUUID());
        if (options(next, nextUpper, nextWork).length() + ",index=on".length() > MAX_OPTIONS || next.size() > MAX_LOWERS) {
            return null;
        }
        if (run(List.of("umount", target.toString())) != null) {
            return null;
        }
        OverlayMount mounted;
        try {
            mounted = mount(next, nextUpper, nextWork, target, records);
        } catch (IOException e) {
            // the rootfs must not be left unmounted: back as it was, on a fresh work directory
            Trees.deleteQuietly(work);
            OverlayMount again = mount(lowers, upper, work, target, records);
            release();
            LOG.log(System.Logger.Level.DEBUG, "layer store: cannot stack a RUN's changes on " + target + ": " + e.getMessage());
            return again;
        }
        release();
        return mounted;
    }

    Path target() {
        return target;
    }

    /** Whether {@code dir} is this mount's top lower layer (false after a failed restack put the old mount back). */
    boolean hasOnTop(Path dir) {
        return lowers.get(lowers.size() - 1).equals(dir);
    }

    private static boolean empty(Path dir) throws IOException {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            return !entries.iterator().hasNext();
        }
    }

    /** What an unmounted mount leaves: its work directory and its record. */
    private void release() throws IOException {
        Trees.deleteQuietly(work);
        Files.deleteIfExists(record);
        recordChannel.close();
    }

    void unmount() throws IOException {
        if (run(List.of("umount", target.toString())) != null) {
            String lazy = run(List.of("umount", "-l", target.toString()));
            if (lazy != null) {
                // the record stays locked until this process ends; the next start tries again
                throw new IOException("cannot unmount the overlay on " + target + ": " + lazy);
            }
        }
        release();
    }

    /**
     * Unmounts what a killed process left mounted: every record in {@code records} whose lock
     * nobody holds. Its target, upper and work directories go too (they belonged to a build that
     * is gone); a record whose mount cannot be undone stays for the next try.
     */
    static void cleanUpAfterCrash(Path records) throws IOException {
        List<Path> stale = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(records)) {
            stream.forEach(stale::add);
        }
        for (Path record : stale) {
            try (FileChannel channel = FileChannel.open(record, StandardOpenOption.WRITE, StandardOpenOption.READ);
                 FileLock lock = LayerLeases.tryLock(channel, false)) {
                if (lock == null) {
                    continue; // its process is alive
                }
                List<String> lines = new String(Channels.newInputStream(channel).readAllBytes(), StandardCharsets.UTF_8)
                        .lines().toList();
                if (lines.size() >= 3) {
                    if (!unmountStale(Path.of(lines.get(0)))) {
                        continue;
                    }
                    lines.forEach(dir -> Trees.deleteQuietly(Path.of(dir)));
                } else if (Files.getLastModifiedTime(record).toInstant().isAfter(Instant.now().minusSeconds(60))) {
                    continue; // just made, not locked yet by its owner: not a leftover
                } // else killed while writing the record, before mounting anything
                Files.deleteIfExists(record);
            } catch (java.nio.file.NoSuchFileException e) {
                // its owner unmounted it meanwhile
            }
        }
    }

    /** Whether {@code target} is no longer mounted, unmounting it if it was. */
    private static boolean unmountStale(Path target) throws IOException {
        if (!mounted(target)) {
            return true;
        }
        LOG.log(System.Logger.Level.INFO, "layer store: unmounting " + target + ", left mounted by a build that was killed");
        if (run(List.of("umount", target.toString())) == null || run(List.of("umount", "-l", target.toString())) == null) {
            return true;
        }
        LOG.log(System.Logger.Level.WARNING, "layer store: cannot unmount " + target + " left by a killed build");
        return false;
    }

    /** Whether {@code path} is a mount point in this process's mount namespace. */
    static boolean mounted(Path path) throws IOException {
        return IgnoredPaths.mountPoints(Files.readString(Path.of("/proc/self/mountinfo"))).contains(path.toString());
    }

    private static String options(List<Path> lowers, Path upper, Path work) {
        List<String> dirs = new ArrayList<>();
        for (int i = lowers.size() - 1; i >= 0; i--) {
            dirs.add(escape(lowers.get(i).toAbsolutePath().toString()));
        }
        return "lowerdir=" + String.join(":", dirs) + ",upperdir=" + escape(upper.toAbsolutePath().toString())
                + ",workdir=" + escape(work.toAbsolutePath().toString()) + ",userxattr";
    }

    private static String escape(String path) {
        return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,");
    }

    /** Null when the command succeeded, else what it said (or why it could not run). */
    private static String run(List<String> command) throws IOException {
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            return "cannot run " + command.get(0) + ": " + e.getMessage();
        }
        process.getOutputStream().close();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        try {
            int exit = process.waitFor();
            if (exit == 0) {
                return null;
            }
            String first = out.lines().findFirst().orElse("");
            return command.get(0) + " exited with " + exit + (first.isEmpty() ? "" : ": " + first);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while running " + command.get(0));
        }
    }
}
