package dev.kiln.builder.rootfs;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Resolves paths inside a root filesystem directory the way the kernel would inside a chroot of
 * it: absolute symlink targets start again at the rootfs root, {@code ..} stops at the root, and
 * every symlink met on the way is followed component by component. The result is always the
 * rootfs root or below it, so a layer entry, a COPY destination or a WORKDIR cannot reach the
 * host through a hostile symlink.
 *
 * <p>Resolution reads the tree as it is now; a concurrent writer could swap a directory for a
 * symlink after the check. Kiln's rootfs belongs to one build and nothing else writes it while a
 * step applies files, so that race is not defended against here.
 */
public final class RootfsPath {
    /** Linux gives up after 40 symlinks in one lookup (MAXSYMLINKS); so do we. */
    private static final int MAX_SYMLINKS = 40;

    private final Path root;

    private RootfsPath(Path root) {
        this.root = root;
    }

    /** The root is itself resolved once on the host, so host-side symlinks above it do not matter. */
    public static RootfsPath of(Path root) throws IOException {
        return new RootfsPath(root.toRealPath());
    }

    public Path root() {
        return root;
    }

    /** Resolves every component, the last one included, as {@code open(2)} would in the chroot. */
    public Path resolve(String path) throws IOException {
        return resolve(path, true);
    }

    /**
     * Resolves every component but the last, which is left as is, as {@code lstat(2)},
     * {@code unlink(2)} or {@code symlink(2)} see it: the path names the entry itself, even when
     * that entry is a symlink.
     */
    public Path resolveNoFollow(String path) throws IOException {
        return resolve(path, false);
    }

    /** The chroot-absolute form ({@code /a/b}) of a host path at or below the root. */
    public String inside(Path host) {
        Path relative = root.relativize(host.toAbsolutePath().normalize());
        if (relative.startsWith("..")) {
            throw new IllegalArgumentException(host + " is not inside " + root);
        }
        return "/" + relative.toString();
    }

    private Path resolve(String path, boolean followLast) throws IOException {
        Deque<String> pending = new ArrayDeque<>();
        push(pending, path);
        List<String> resolved = new ArrayList<>();
        int symlinks = 0;
        while (!pending.isEmpty()) {
            String part = pending.pop();
            if (part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                // every resolved component is a real directory, so ".." is a plain step up;
                // at the root it stays at the root, as in a chroot
                if (!resolved.isEmpty()) {
                    resolved.remove(resolved.size() - 1);
                }
                continue;
            }
            Path candidate = host(resolved).resolve(part);
            boolean last = pending.isEmpty();
            BasicFileAttributes attributes = lstat(candidate);
            if (attributes != null && attributes.isSymbolicLink() && (followLast || !last)) {
                if (++symlinks > MAX_SYMLINKS) {
                    throw new FileSystemException(path, null, "too many levels of symbolic links inside the rootfs");
                }
                String target = Files.readSymbolicLink(candidate).toString();
                if (target.startsWith("/")) {
                    resolved.clear();
                }
                push(pending, target);
            } else {
                resolved.add(part);
            }
        }
        return host(resolved);
    }

    /** Queues a path's components ahead of what is pending, in order. */
    private static void push(Deque<String> pending, String path) {
        String[] parts = path.split("/");
        for (int i = parts.length - 1; i >= 0; i--) {
            if (!parts[i].isEmpty()) {
                pending.push(parts[i]);
            }
        }
    }

    private Path host(List<String> parts) {
        Path p = root;
        for (String part : parts) {
            p = p.resolve(part);
        }
        return p;
    }

    private static BasicFileAttributes lstat(Path p) throws IOException {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (java.nio.file.NoSuchFileException | java.nio.file.NotDirectoryException e) {
            return null;
        }
    }
}
