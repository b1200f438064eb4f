package dev.kiln.builder.sandbox;

import dev.kiln.builder.rootfs.RootfsPath;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Mount points a sandbox needs inside the rootfs for one run. Every path is resolved the way the
 * chroot would see it ({@link RootfsPath}), so a hostile symlink in the image cannot make a mount
 * land on the host. What did not exist before is created and, on {@link #close()}, removed again
 * (empty files and directories only: what the command put there stays). An existing directory it
 * made them in gets its mtime back when the command did not add or remove anything there itself,
 * so a walking snapshot does not see a change that is not one; its ctime cannot be set back, and
 * the directory is told to {@code restored} instead.
 */
final class Scaffold implements AutoCloseable {
    private final RootfsPath root;
    private final Consumer<String> restored;
    private final List<Path> created = new ArrayList<>();
    /** An existing directory mount points were made in: its mtime before the first, and after the last. */
    private final Map<Path, FileTime[]> parents = new LinkedHashMap<>();

    Scaffold(RootfsPath root, Consumer<String> restored) {
        this.root = root;
        this.restored = restored;
    }

    Scaffold(RootfsPath root) {
        this(root, dir -> { });
    }

    RootfsPath root() {
        return root;
    }

    /** A directory mount point at {@code inside} (absolute, or relative to {@code cwd}). */
    Path dir(String inside) throws IOException {
        Path p = root.resolve(inside);
        ensureDirs(p, created, -1, -1);
        return p;
    }

    /** A file mount point at {@code inside}: an existing file, or an empty one made for the run. */
    Path file(String inside) throws IOException {
        Path p = root.resolve(inside);
        ensureDirs(p.getParent(), created, -1, -1);
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new SandboxException("cannot mount a file over the directory " + inside);
        }
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            FileTime before = mtime(p.getParent());
            Files.createFile(p);
            madeIn(p.getParent(), before, created);
            created.add(p);
        }
        return p;
    }

    /**
     * Creates the working directory (kept: it is part of the image, as Docker leaves it) with any
     * missing parents owned by the RUN's user, as BuildKit does.
     */
    Path workdir(String inside, RunUser user, boolean canChown) throws IOException {
        Path p = root.resolve(inside);
        List<Path> made = new ArrayList<>();
        ensureDirs(p, made, canChown ? user.uid() : -1, canChown ? user.gid() : -1);
        if (Files.exists(p) && !Files.isDirectory(p)) {
            throw new SandboxException("working directory " + inside + " is not a directory");
        }
        return p;
    }

    /**
     * The directories {@link #workdir} would create, outermost first, without creating them: for
     * a run on an overlay, which makes them inside the overlay so they become part of its changes.
     */
    List<Path> missingWorkdir(String inside) throws IOException {
        Path p = root.resolve(inside);
        List<Path> missing = new ArrayList<>();
        Path current = root.root();
        for (Path part : root.root().relativize(p)) {
            if (part.toString().isEmpty()) {
                continue;
            }
            current = current.resolve(part);
            if (!missing.isEmpty() || !Files.exists(current, LinkOption.NOFOLLOW_LINKS)) {
                missing.add(current);
            } else if (!Files.isDirectory(current, LinkOption.NOFOLLOW_LINKS)) {
                throw new SandboxException((current.equals(p) ? "working directory " + inside : root.inside(current))
                        + " is not a directory");
            }
        }
        return missing;
    }

    String inside(Path host) {
        return root.inside(host);
    }

    private void ensureDirs(Path dir, List<Path> record, long uid, long gid) throws IOException {
        Path rootDir = root.root();
        Path relative = rootDir.relativize(dir);
        Path p = rootDir;
        for (Path part : relative) {
            if (part.toString().isEmpty()) {
                continue;
            }
            p = p.resolve(part);
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                throw new SandboxException(root.inside(p) + " exists and is not a directory");
            }
            FileTime before = mtime(p.getParent());
            Files.createDirectory(p, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
            if (record == created) {
                madeIn(p.getParent(), before, record);
            }
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
            if (uid >= 0) {
                Files.setAttribute(p, "unix:uid", (int) uid, LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(p, "unix:gid", (int) gid, LinkOption.NOFOLLOW_LINKS);
            }
            record.add(p);
        }
    }

    private static FileTime mtime(Path dir) throws IOException {
        return Files.getLastModifiedTime(dir, LinkOption.NOFOLLOW_LINKS);
    }

    /** Notes that a mount point was just made in {@code dir}, whose mtime was {@code before}. */
    private void madeIn(Path dir, FileTime before, List<Path> record) throws IOException {
        if (record.contains(dir)) {
            return; // made for the run too: it goes as a whole
        }
        FileTime[] times = parents.computeIfAbsent(dir, d -> new FileTime[] {before, null});
        times[1] = mtime(dir);
    }

    /** Removes what was created for the run, newest first, when it is still empty. */
    @Override
    public void close() {
        List<Path> made = new ArrayList<>(created);
        Map<Path, FileTime> atEnd = new LinkedHashMap<>();
        for (Path dir : parents.keySet()) {
            try {
                atEnd.put(dir, mtime(dir));
            } catch (IOException e) {
                // gone: nothing to set back
            }
        }
        for (int i = created.size() - 1; i >= 0; i--) {
            Path p = created.get(i);
            try {
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    if (Files.size(p) == 0) {
                        Files.delete(p);
                    }
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    Files.delete(p);
                }
            } catch (DirectoryNotEmptyException e) {
                // the command wrote there: that is its change, keep it
            } catch (IOException e) {
                // best effort; a leftover empty mount point is harmless
            }
        }
        created.clear();
        for (Map.Entry<Path, FileTime[]> e : parents.entrySet()) {
            Path dir = e.getKey();
            // the command made or removed entries here itself (the mtime moved after ours), or one of
            // ours stayed because it wrote there: a real change, left as it is
            if (!e.getValue()[1].equals(atEnd.get(dir)) || !madeGone(dir, made)) {
                continue;
            }
            try {
                Files.setLastModifiedTime(dir, e.getValue()[0]);
                restored.accept(root.inside(dir));
            } catch (IOException ignored) {
                // a changed mtime only costs the directory's entry in the layer
            }
        }
        parents.clear();
    }

    private static boolean madeGone(Path dir, List<Path> made) {
        return made.stream().filter(p -> dir.equals(p.getParent())).noneMatch(p -> Files.exists(p, LinkOption.NOFOLLOW_LINKS));
    }

}
