package dev.kiln.oci.layer;

/** What a layer tar entry creates when applied; whiteouts are regular files named {@code .wh.*}. */
public enum EntryType {
    FILE,
    DIRECTORY,
    SYMLINK,
    HARDLINK,
    CHAR_DEVICE,
    BLOCK_DEVICE,
    FIFO
}
