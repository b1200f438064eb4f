package dev.kiln.builder.rootfs;

import java.util.List;

/**
 * What applying one layer did.
 *
 * @param entries   tar entries read
 * @param whiteouts whiteouts and opaque markers applied
 * @param skipped   entries left out (devices without privilege, xattrs that could not be set…)
 * @param warnings  one line per thing left out or done differently
 */
public record Extraction(int entries, int whiteouts, int skipped, List<String> warnings) {
    public Extraction {
        warnings = List.copyOf(warnings);
    }
}
