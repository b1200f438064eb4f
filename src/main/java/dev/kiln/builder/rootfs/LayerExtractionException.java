package dev.kiln.builder.rootfs;

import java.io.IOException;

/** A layer entry that could not, or must not, be applied; the message names the entry. */
public class LayerExtractionException extends IOException {
    private final String entry;

    public LayerExtractionException(String entry, String problem) {
        super("layer entry '" + entry + "': " + problem);
        this.entry = entry;
    }

    public LayerExtractionException(String entry, String problem, Throwable cause) {
        super("layer entry '" + entry + "': " + problem, cause);
        this.entry = entry;
    }

    /** The entry name as it appears in the tar. */
    public String entry() {
        return entry;
    }
}
