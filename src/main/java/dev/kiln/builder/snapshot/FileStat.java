package dev.kiln.builder.snapshot;

import dev.kiln.oci.Digest;
import java.time.Instant;
import java.util.Objects;

/**
 * What {@code lstat(2)} says about one path, plus its symlink target and, only for files whose
 * stat cannot be trusted yet (see {@link TreeScanner}), a hash of its content.
 *
 * @param mode        permission bits including setuid, setgid and sticky ({@code 07777})
 * @param ctime       inode change time: the kernel updates it on every content or metadata
 *                    change and no user-space call can set it back, unlike mtime
 * @param rdev        device number of a device node
 * @param contentHash sha256 of the content when the stat was racy, else null
 */
public record FileStat(
        FileType type,
        int mode,
        long uid,
        long gid,
        long size,
        Instant mtime,
        Instant ctime,
        long ino,
        long dev,
        long nlink,
        long rdev,
        String linkTarget,
        Digest contentHash) {

    /**
     * Same inode with the same metadata. {@code nlink} is left out: a link made or removed
     * elsewhere changes ctime, which is compared.
     */
    public boolean sameStat(FileStat other) {
        return type == other.type && mode == other.mode && uid == other.uid && gid == other.gid
                && size == other.size && mtime.equals(other.mtime) && ctime.equals(other.ctime)
                && ino == other.ino && dev == other.dev && rdev == other.rdev
                && Objects.equals(linkTarget, other.linkTarget);
    }

    /** This stat with {@code ctime} for its own: what a directory whose mtime was set back is compared as. */
    public FileStat withCtime(Instant ctime) {
        return new FileStat(type, mode, uid, gid, size, mtime, ctime, ino, dev, nlink, rdev, linkTarget, contentHash);
    }

    /** Linux's encoding of major numbers in a dev_t (glibc's gnu_dev_major). */
    public int devMajor() {
        return (int) (((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL));
    }

    public int devMinor() {
        return (int) ((rdev & 0xff) | ((rdev >>> 12) & ~0xffL));
    }
}
