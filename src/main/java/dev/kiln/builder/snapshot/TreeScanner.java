package dev.kiln.builder.snapshot;

import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.layer.LayerPaths;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Takes a {@link FileSnapshot} of a rootfs by walking it with {@code lstat} semantics: one stat
 * per path, symlinks never followed, ignored paths (and everything below them) skipped.
 *
 * <p><b>The racy rule.</b> A later scan trusts an unchanged stat, in particular an unchanged
 * ctime, to mean unchanged content. That fails only when a file changes again within the same
 * timestamp tick as its previous change, which is possible only if that previous change happened
 * just before this scan (Git's "racy clean" problem). So files whose mtime or ctime falls within
 * a window before the scan started (or after it) get their content hashed now, and the diff
 * compares content for them when their stat has not changed. The window is 1 s when the
 * filesystem only keeps whole seconds (no timestamp seen has a fraction) and 100 ms otherwise, well
 * above the kernel's timestamp tick of at most 10 ms. Every other file is never read.
 */
public final class TreeScanner {
    /** Kernel filesystems that a RUN sandbox mounts; they are never image content. */
    public static final Set<String> DEFAULT_IGNORED = Set.of("proc", "sys", "dev");

    private static final String ATTRIBUTES = "unix:mode,uid,gid,size,lastModifiedTime,ctime,ino,dev,nlink,rdev";
    private static final Duration COARSE_WINDOW = Duration.ofSeconds(1);
    private static final Duration FINE_WINDOW = Duration.ofMillis(100);

    private final Set<String> ignored;

    /** @param ignored rootfs-relative paths skipped with everything below them ({@code /proc}, {@code kiln}) */
    public TreeScanner(Set<String> ignored) {
        Set<String> clean = new HashSet<>();
        for (String path : ignored) {
            clean.add(LayerPaths.clean(path));
        }
        this.ignored = Set.copyOf(clean);
    }

    public static TreeScanner withDefaults() {
        return new TreeScanner(DEFAULT_IGNORED);
    }

    public Set<String> ignored() {
        return ignored;
    }

    public boolean isIgnored(String path) {
        for (String p = path; !p.isEmpty(); p = LayerPaths.parent(p)) {
            if (ignored.contains(p)) {
                return true;
            }
        }
        return false;
    }

    public FileSnapshot scan(Path rootfs) throws IOException {
        Instant started = Instant.now();
        Walk walk = new Walk(started.minus(COARSE_WINDOW));
        walk.directory(rootfs, "");
        Instant racyFrom = started.minus(walk.subSecond ? FINE_WINDOW : COARSE_WINDOW);
        for (String path : walk.maybeRacy) {
            FileStat stat = walk.entries.get(path);
            if (!latest(stat).isBefore(racyFrom)) {
                walk.entries.put(path, withHash(stat, hash(rootfs.resolve(path))));
            }
        }
        return new FileSnapshot(walk.entries, started);
    }

    /**
     * Stats only {@code paths} and their ancestors, with the racy rule of {@link #scan}: for the
     * paths a step is known to have touched. A path is left out when it does not exist or when an
     * ancestor is not a directory (so a symlinked parent is never followed out of the rootfs), and
     * so is every ignored path.
     */
    public FileSnapshot scanPaths(Path rootfs, Collection<String> paths) throws IOException {
        Instant started = Instant.now();
        Map<String, FileStat> entries = statPaths(rootfs, paths);
        boolean subSecond = false;
        List<String> candidates = new ArrayList<>();
        for (Map.Entry<String, FileStat> e : entries.entrySet()) {
            FileStat stat = e.getValue();
            subSecond |= stat.mtime().getNano() != 0 || stat.ctime().getNano() != 0;
            if (stat.type() == FileType.REGULAR) {
                candidates.add(e.getKey());
            }
        }
        Instant racyFrom = started.minus(subSecond ? FINE_WINDOW : COARSE_WINDOW);
        for (String path : candidates) {
            FileStat stat = entries.get(path);
            if (!latest(stat).isBefore(racyFrom)) {
                entries.put(path, withHash(stat, hash(rootfs.resolve(path))));
            }
        }
        return new FileSnapshot(entries, started);
    }

    /** {@link #scanPaths} without content hashes: for a state that is only compared against, never trusted later. */
    Map<String, FileStat> statPaths(Path rootfs, Collection<String> paths) throws IOException {
        TreeSet<String> all = new TreeSet<>(LayerPaths::compare);
        for (String path : paths) {
            String p = path;
            while (!p.isEmpty() && all.add(p)) {
                p = LayerPaths.parent(p);
            }
        }
        // in tar order every parent is judged before its children
        Map<String, FileStat> entries = new HashMap<>();
        for (String path : all) {
            String parent = LayerPaths.parent(path);
            if (isIgnored(path) || !parent.isEmpty()
                    && (entries.get(parent) == null || entries.get(parent).type() != FileType.DIRECTORY)) {
                continue;
            }
            try {
                entries.put(path, stat(rootfs.resolve(path)));
            } catch (NoSuchFileException e) {
                // deleted: absent from this state
            }
        }
        return entries;
    }

    private static Instant latest(FileStat stat) {
        return stat.ctime().isAfter(stat.mtime()) ? stat.ctime() : stat.mtime();
    }

    private static FileStat withHash(FileStat s, Digest hash) {
        return new FileStat(s.type(), s.mode(), s.uid(), s.gid(), s.size(), s.mtime(), s.ctime(), s.ino(), s.dev(),
                s.nlink(), s.rdev(), s.linkTarget(), hash);
    }

    static Digest hash(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            return Digester.digest(in, "sha256");
        }
    }

    /** Reads one path's stat; package-visible so the diff can re-read a single path. */
    static FileStat stat(Path path) throws IOException {
        Map<String, Object> a = Files.readAttributes(path, ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) a.get("mode");
        FileType type = FileType.ofMode(mode);
        return new FileStat(type, mode & 07777,
                Integer.toUnsignedLong((Integer) a.get("uid")), Integer.toUnsignedLong((Integer) a.get("gid")),
                (Long) a.get("size"),
                ((FileTime) a.get("lastModifiedTime")).toInstant(), ((FileTime) a.get("ctime")).toInstant(),
                (Long) a.get("ino"), (Long) a.get("dev"), ((Number) a.get("nlink")).longValue(), (Long) a.get("rdev"),
                type == FileType.SYMLINK ? Files.readSymbolicLink(path).toString() : null, null);
    }

    private final class Walk {
        final Map<String, FileStat> entries = new HashMap<>();
        final List<String> maybeRacy = new ArrayList<>();
        final Instant candidateFrom;
        boolean subSecond;

        Walk(Instant candidateFrom) {
            this.candidateFrom = candidateFrom;
        }

        void directory(Path dir, String rel) throws IOException {
            List<Path> children = new ArrayList<>();
            try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
                stream.forEach(children::add);
            }
            for (Path child : children) {
                String childRel = LayerPaths.child(rel, child.getFileName().toString());
                if (ignored.contains(childRel)) {
                    continue;
                }
                FileStat stat = stat(child);
                entries.put(childRel, stat);
                subSecond |= stat.mtime().getNano() != 0 || stat.ctime().getNano() != 0;
                if (stat.type() == FileType.REGULAR && !latest(stat).isBefore(candidateFrom)) {
                    maybeRacy.add(childRel);
                }
                if (stat.type() == FileType.DIRECTORY) {
                    directory(child, childRel);
                }
            }
        }
    }
}
