package dev.kiln.builder.layers;

import dev.kiln.builder.rootfs.LayerDirIndex;
import dev.kiln.builder.rootfs.LayerDirMerge;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The directories a layer uses without listing them (and its root, unless listed) are the lower
 * layers' directories: a tar applied to the rootfs leaves their owner and mode as they were. A
 * layer unpacked on its own made them with defaults, and overlayfs would show those on top; so
 * they take the metadata of the directory the lower stack has there. The lower stack is fixed for
 * a ChainID, so this belongs to the kept layer. Where the lower stack has something else there (a
 * symlink the tar meant to go through, a file), overlayfs cannot show what the tar means: the
 * stack is then marked for copying.
 */
final class LowerMetadata {
    private LowerMetadata() {
    }

    /** @param below the kept layers under this one, bottom first; false when overlayfs cannot stack it */
    static boolean adopt(Path fs, LayerDirIndex index, List<Path> below) throws IOException {
        if (below.isEmpty()) {
            return true;
        }
        if (!index.isRootListed()) {
            copy(below.get(below.size() - 1).resolve("fs"), fs);
        }
        // parents first, so a child's lookup below never goes through a parent that was not a directory
        List<String> implicit = new ArrayList<>(index.implicitDirectories());
        implicit.sort((a, b) -> Integer.compare(depth(a), depth(b)));
        boolean safe = true;
        for (String dir : implicit) {
            KeptStack.Found found = KeptStack.find(dir, below);
            if (found.conflict()) {
                safe = false;
            } else if (found.dir() != null) {
                copy(found.dir(), fs.resolve(dir));
            }
        }
        return safe;
    }

    private static int depth(String path) {
        return path.split("/").length;
    }

    static void copy(Path from, Path to) throws IOException {
        LayerDirMerge.copyDirectoryMetadata(from, to);
    }
}
