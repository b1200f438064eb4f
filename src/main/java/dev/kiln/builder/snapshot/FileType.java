package dev.kiln.builder.snapshot;

/** The kind of inode, from the {@code S_IFMT} bits of {@code st_mode}. */
public enum FileType {
    REGULAR,
    DIRECTORY,
    SYMLINK,
    CHAR_DEVICE,
    BLOCK_DEVICE,
    FIFO,
    /** Sockets cannot be stored in a tar; snapshots see them, layers leave them out. */
    SOCKET;

    static FileType ofMode(int mode) {
        return switch (mode & 0170000) {
            case 0100000 -> REGULAR;
            case 0040000 -> DIRECTORY;
            case 0120000 -> SYMLINK;
            case 0020000 -> CHAR_DEVICE;
            case 0060000 -> BLOCK_DEVICE;
            case 0010000 -> FIFO;
            case 0140000 -> SOCKET;
            default -> throw new IllegalArgumentException("unknown file type in mode " + Integer.toOctalString(mode));
        };
    }
}
