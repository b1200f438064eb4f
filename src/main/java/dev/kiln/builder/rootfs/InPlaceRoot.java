package dev.kiln.builder.rootfs;

import dev.kiln.oci.layer.LayerPaths;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A root filesystem that an in-place build takes over: the executor container's own {@code /}
 * (any directory in tests). Before a stage's base is unpacked, everything that is not ignored is
 * deleted, as kaniko does, so the stage sees exactly its image's files; the ignored paths (Kiln,
 * {@code /proc}, mounts, the build dir…) stay as they are throughout.
 */
public final class InPlaceRoot {
    private final Path root;
    private final IgnoredPaths ignored;

    public InPlaceRoot(Path root, IgnoredPaths ignored) {
        this.root = Objects.requireNonNull(root);
        this.ignored = Objects.requireNonNull(ignored);
    }

    public Path root() {
        return root;
    }

    public IgnoredPaths ignored() {
        return ignored;
    }

    /**
     * Deletes everything below the root except ignored paths and the directories that lead to
     * them; a kept path is not entered, so a mount point keeps what is mounted there.
     *
     * @return how many top-level entries were removed entirely
     */
    public int wipe() throws IOException {
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(root)) {
            stream.forEach(children::add);
        }
        int removed = 0;
        for (Path child : children) {
            if (Trees.deleteTreeKeeping(child, this::isIgnored)) {
                removed++;
            }
        }
        return removed;
    }

    /** Applies layers over the root, leaving ignored paths alone. */
    public LayerExtractor extractor() {
        return LayerExtractor.forRootfs(root).ignoring(ignored);
    }

    private boolean isIgnored(Path host) {
        return ignored.covers(LayerPaths.clean(root.relativize(host).toString()));
    }
}
