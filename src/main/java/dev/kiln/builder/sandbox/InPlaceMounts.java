package dev.kiln.builder.sandbox;

import dev.kiln.builder.rootfs.RootfsPath;
import dev.kiln.builder.rootfs.Trees;
import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code RUN --mount} where RUN shares the executor container's own {@code /}: mounting would need
 * privileges a pod does not have (and would change the container itself), so each mount is a copy.
 * Before the command its content is copied to the target (what the image had there is moved aside);
 * afterwards a cache's new content is copied back to the cache directory, the target is deleted and
 * what was moved aside comes back, so the step's snapshot sees none of it. Read-only is not enforced:
 * a write to a bind or secret is discarded with the copy, as BuildKit discards writes to a bind.
 */
final class InPlaceMounts implements AutoCloseable {
    private record Placed(RunMount mount, Path target, Path aside) {
    }

    private final List<Placed> placed = new ArrayList<>();
    private final List<Path> createdParents = new ArrayList<>();

    private InPlaceMounts() {
    }

    /** Places every mount of {@code spec} in its rootfs ({@code /}), in order. */
    static InPlaceMounts place(RunSpec spec) throws IOException {
        InPlaceMounts mounts = new InPlaceMounts();
        RootfsPath root = RootfsPath.of(spec.rootfs());
        try {
            for (RunMount m : spec.mounts()) {
                mounts.place(m, root.resolve(absolute(m.target(), spec.workdir())));
            }
            return mounts;
        } catch (IOException | RuntimeException e) {
            mounts.close();
            throw e;
        }
    }

    private static String absolute(String target, String workdir) {
        if (target == null || target.isEmpty()) {
            throw new IllegalArgumentException("mount without a target");
        }
        if (target.startsWith("/")) {
            return target;
        }
        return workdir.endsWith("/") ? workdir + target : workdir + "/" + target;
    }

    private void place(RunMount m, Path target) throws IOException {
        if (target.getParent() == null) {
            throw new SandboxException("RUN --mount cannot target /");
        }
        Path aside = null;
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            // a rename in the same directory keeps the image's files as they were, times included
            aside = target.resolveSibling(".kiln-mount-aside-" + placed.size() + "-" + target.getFileName());
            Files.move(target, aside);
        } else {
            makeParents(target.getParent());
        }
        placed.add(new Placed(m, target, aside));
        if (m instanceof RunMount.Bind b) {
            if (!Files.exists(b.source())) {
                throw new SandboxException("bind mount source " + b.source() + " does not exist");
            }
            RunSetup.copy(b.source(), target);
        } else if (m instanceof RunMount.Cache c) {
            Files.createDirectories(c.directory());
            RunSetup.copy(c.directory(), target);
        } else if (m instanceof RunMount.Secret s) {
            if (!Files.isRegularFile(s.file())) {
                throw new SandboxException("secret file " + s.file() + " does not exist");
            }
            Files.copy(s.file(), target);
            Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("r--------"));
        } else if (m instanceof RunMount.Tmpfs) {
            Files.createDirectory(target, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxrwxrwx")));
            Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxrwxrwx"));
        }
    }

    private void makeParents(Path dir) throws IOException {
        List<Path> missing = new ArrayList<>();
        for (Path p = dir; p != null && !Files.exists(p, LinkOption.NOFOLLOW_LINKS); p = p.getParent()) {
            missing.add(0, p);
        }
        for (Path p : missing) {
            Files.createDirectory(p);
            createdParents.add(p);
        }
    }

    /** Keeps what a writable cache now holds for the next RUN that mounts it. */
    void keepCaches() throws IOException {
        for (Placed p : placed) {
            if (p.mount() instanceof RunMount.Cache c && !c.readOnly() && Files.isDirectory(p.target(), LinkOption.NOFOLLOW_LINKS)) {
                Path fresh = c.directory().resolveSibling(c.directory().getFileName() + ".kiln-new");
                Trees.deleteTree(fresh);
                RunSetup.copy(p.target(), fresh);
                Path old = c.directory().resolveSibling(c.directory().getFileName() + ".kiln-old");
                Trees.deleteTree(old);
                Files.move(c.directory(), old);
                Files.move(fresh, c.directory());
                Trees.deleteTree(old);
            }
        }
    }

    /** Takes every mount out again, newest first, and puts back what it covered. */
    @Override
    public void close() {
        for (int i = placed.size() - 1; i >= 0; i--) {
            Placed p = placed.get(i);
            Trees.deleteQuietly(p.target());
            if (p.aside() != null) {
                try {
                    Files.move(p.aside(), p.target());
                } catch (IOException e) {
                    // leave it under its aside name rather than lose it; the snapshot will show it
                }
            }
        }
        placed.clear();
        for (int i = createdParents.size() - 1; i >= 0; i--) {
            try {
                Files.delete(createdParents.get(i));
            } catch (DirectoryNotEmptyException e) {
                // the command wrote there too: that is its change
            } catch (IOException e) {
                // best effort
            }
        }
        createdParents.clear();
    }
}
