package dev.kiln.builder.layers;

import dev.kiln.builder.rootfs.Trees;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An overlayfs mount of kept layers in this process's mount namespace, with {@code userxattr} so
 * the layers' whiteouts and opaque directories read as {@link dev.kiln.builder.rootfs.LayerDirIndex}
 * writes them. Only root (or CAP_SYS_ADMIN) can mount here; {@link #tryMount} then says no.
 */
final class OverlayMount {
    /** mount(2) takes its options in one page. */
    private static final int MAX_OPTIONS = 4000;

    private final Path target;
    private final Path work;

    private OverlayMount(Path target, Path work) {
        this.target = target;
        this.work = work;
    }

    /** Mounts {@code lowers} (bottom first) under a new {@code upper} on {@code target}, or null when refused. */
    static OverlayMount tryMount(List<Path> lowers, Path upper, Path work, Path target) throws IOException {
        List<String> dirs = new ArrayList<>();
        for (int i = lowers.size() - 1; i >= 0; i--) {
            dirs.add(escape(lowers.get(i).toAbsolutePath().toString()));
        }
        String options = "lowerdir=" + String.join(":", dirs) + ",upperdir=" + escape(upper.toAbsolutePath().toString())
                + ",workdir=" + escape(work.toAbsolutePath().toString()) + ",userxattr";
        if (options.length() > MAX_OPTIONS) {
            return null;
        }
        Files.createDirectories(upper);
        Files.createDirectories(work);
        // the merged root shows the upper directory's mode, owner and mtime: the top layer's
        LowerMetadata.copy(lowers.get(lowers.size() - 1), upper);
        if (run(List.of("mount", "-t", "overlay", "overlay", "-o", options, target.toString())) != 0) {
            Trees.deleteQuietly(work);
            Trees.deleteQuietly(upper);
            return null;
        }
        return new OverlayMount(target, work);
    }

    void unmount() throws IOException {
        if (run(List.of("umount", target.toString())) != 0 && run(List.of("umount", "-l", target.toString())) != 0) {
            throw new IOException("cannot unmount the overlay on " + target);
        }
        Trees.deleteQuietly(work);
    }

    private static String escape(String path) {
        return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,");
    }

    private static int run(List<String> command) throws IOException {
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            return -1; // no mount(8) here
        }
        process.getOutputStream().close();
        process.getInputStream().readAllBytes();
        try {
            return process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while running " + command.get(0));
        }
    }
}
