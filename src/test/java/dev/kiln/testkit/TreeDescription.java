package dev.kiln.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Everything about a tree that a layer records, as text per path, so two trees can be compared. */
public final class TreeDescription {
    private TreeDescription() {
    }

    /** Path → mode, owner, content or link target, hardlink group, mtime. The root's own mtime is left out. */
    public static Map<String, String> describe(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        Map<Object, String> firstByInode = new HashMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                String rel = dir.relativize(p).toString();
                Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,lastModifiedTime,ino", LinkOption.NOFOLLOW_LINKS);
                StringBuilder d = new StringBuilder(Integer.toOctalString((Integer) a.get("mode")))
                        .append(' ').append(a.get("uid")).append(':').append(a.get("gid"));
                if (Files.isSymbolicLink(p)) {
                    d.append(" -> ").append(Files.readSymbolicLink(p));
                } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    d.append(" sha=").append(Tools.sha256sum(p).substring(0, 12))
                            .append(" links=").append(firstByInode.computeIfAbsent(a.get("ino"), k -> rel));
                }
                if (!rel.isEmpty()) {
                    d.append(" t=").append(((FileTime) a.get("lastModifiedTime")).toInstant().getEpochSecond());
                }
                out.put(rel, d.toString());
            }
        }
        return out;
    }
}
