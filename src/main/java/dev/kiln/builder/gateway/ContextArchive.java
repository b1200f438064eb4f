package dev.kiln.builder.gateway;

import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.oci.layer.Compression;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.MtimePolicy;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A build context directory as the tar.gz a gateway build receives: what {@code .dockerignore}
 * (or {@code <Dockerfile>.dockerignore}) leaves in, with modes, owners and times kept. The
 * Dockerfile and the ignore files always go in, since the gateway reads them from the archive.
 */
public final class ContextArchive {
    private ContextArchive() {
    }

    /**
     * Writes the archive of {@code context} to {@code out} (flushed, left open).
     *
     * @param dockerfile the Dockerfile's path relative to {@code context}
     * @return how many entries were written
     */
    public static int write(Path context, String dockerfile, OutputStream out) throws IOException {
        List<LayerEntry> entries = entries(context, dockerfile);
        new LayerWriter(Compression.gzip(), MtimePolicy.keep()).write(entries, out);
        return entries.size();
    }

    static List<LayerEntry> entries(Path context, String dockerfile) throws IOException {
        Path root = context.toAbsolutePath().normalize();
        DockerIgnore ignore = ignoreFile(root, dockerfile);
        List<String> alwaysIn = List.of(dockerfile, dockerfile + ".dockerignore", ".dockerignore");
        List<LayerEntry> entries = new ArrayList<>();
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                if (dir.equals(root)) {
                    return FileVisitResult.CONTINUE;
                }
                String rel = relative(root, dir);
                if (!ignore.excluded(rel, true)) {
                    entries.add(entry(rel, dir, LayerEntry.directory(rel)));
                    return FileVisitResult.CONTINUE;
                }
                return ignore.mustWalk(rel) ? FileVisitResult.CONTINUE : FileVisitResult.SKIP_SUBTREE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                String rel = relative(root, file);
                if (ignore.excluded(rel, false) && !alwaysIn.contains(rel)) {
                    return FileVisitResult.CONTINUE;
                }
                if (attrs.isSymbolicLink()) {
                    entries.add(entry(rel, file, LayerEntry.symlink(rel, Files.readSymbolicLink(file).toString())));
                } else if (attrs.isRegularFile()) {
                    entries.add(entry(rel, file, LayerEntry.file(rel, file, attrs.size())));
                }
                return FileVisitResult.CONTINUE; // sockets, fifos and devices have no place in a context
            }
        });
        return entries;
    }

    private static DockerIgnore ignoreFile(Path root, String dockerfile) throws IOException {
        Path specific = root.resolve(dockerfile + ".dockerignore");
        Path general = root.resolve(".dockerignore");
        Path chosen = Files.isRegularFile(specific) ? specific : Files.isRegularFile(general) ? general : null;
        return chosen == null ? DockerIgnore.of(List.of()) : DockerIgnore.parse(Files.readString(chosen));
    }

    private static LayerEntry entry(String rel, Path file, LayerEntry bare) throws IOException {
        Map<String, Object> unix = Files.readAttributes(file, "unix:mode,uid,gid,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
        return bare.withMode((Integer) unix.get("mode") & 07777)
                .withOwner((Integer) unix.get("uid"), (Integer) unix.get("gid"))
                .withMtime(((FileTime) unix.get("lastModifiedTime")).toInstant());
    }

    private static String relative(Path root, Path path) {
        return root.relativize(path).toString().replace('\\', '/');
    }
}
