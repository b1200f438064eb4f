package dev.kiln.oci.layer;

/** The OCI/AUFS whiteout naming convention that layer tars use to record deletions. */
public final class Whiteouts {
    /** A file {@code dir/.wh.name} deletes {@code dir/name} from the layers below. */
    public static final String PREFIX = ".wh.";
    /** A file {@code dir/.wh..wh..opq} hides everything the layers below put in {@code dir}. */
    public static final String OPAQUE = ".wh..wh..opq";

    private Whiteouts() {
    }

    public static boolean isOpaque(String baseName) {
        return OPAQUE.equals(baseName);
    }

    /** True for a plain whiteout (not the opaque marker). */
    public static boolean isWhiteout(String baseName) {
        return baseName.startsWith(PREFIX) && !isOpaque(baseName);
    }

    /** The name a whiteout deletes: {@code .wh.foo} → {@code foo}. */
    public static String deletedName(String baseName) {
        if (!isWhiteout(baseName)) {
            throw new IllegalArgumentException("not a whiteout: " + baseName);
        }
        return baseName.substring(PREFIX.length());
    }
}
