package dev.kiln.builder.snapshot;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Where the rootfs is itself an overlay mount of layers, a RUN's upper directory can become its top
 * layer as it is: nothing is copied into the rootfs, and nothing deleted from the upper directory
 * (10,000 new files cost 10,000 creates and 10,000 unlinks more when applied by copying).
 */
@FunctionalInterface
public interface UpperStacking {
    /** Never: the upper directory is always applied to the rootfs. */
    UpperStacking NONE = upper -> false;

    /**
     * Whether {@code upper} is now part of the rootfs, which then shows its changes; it must stay
     * where it is until the build is over. False: nothing happened, apply it.
     */
    boolean stack(Path upper) throws IOException;
}
