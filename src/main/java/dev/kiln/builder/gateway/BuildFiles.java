package dev.kiln.builder.gateway;

import dev.kiln.builder.rootfs.Trees;
import dev.kiln.store.FsFiles;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The gateway's builds on disk, under {@code <store>/builds/}: per build a directory
 * {@code <id>/} holding {@code build.json} (the record, replaced atomically), {@code build.log}
 * (appended while the build runs), and while it waits or runs the uploaded {@code context.tar},
 * a {@code work/} directory and, for a build running elsewhere, {@code context.token}. Uploads land in {@code .incoming/} until they are accepted, so a
 * refused upload leaves nothing behind in a build directory.
 */
public final class BuildFiles {
    private static final Pattern ID = Pattern.compile("[0-9a-f]{20}");

    private final Path root;

    public BuildFiles(Path storeRoot) throws IOException {
        this.root = storeRoot.resolve("builds");
        FsFiles.createDirectories(incoming());
    }

    public Path root() {
        return root;
    }

    /** Whether {@code id} has the shape of a build id, so that it is safe to use in a path. */
    public static boolean isId(String id) {
        return id != null && ID.matcher(id).matches();
    }

    public Path dir(String id) {
        if (!isId(id)) {
            throw new IllegalArgumentException("not a build id: " + id);
        }
        return root.resolve(id);
    }

    public Path record(String id) {
        return dir(id).resolve("build.json");
    }

    public Path log(String id) {
        return dir(id).resolve("build.log");
    }

    public Path context(String id) {
        return dir(id).resolve("context.tar");
    }

    /** The SHA-256 of the one-time token that opens the context to a build running elsewhere ({@link ContextTokens}). */
    public Path contextToken(String id) {
        return dir(id).resolve("context.token");
    }

    public Path work(String id) {
        return dir(id).resolve("work");
    }

    public Path incoming() {
        return root.resolve(".incoming");
    }

    public void save(BuildRecord record) throws IOException {
        FsFiles.createDirectories(dir(record.id()));
        FsFiles.atomicWrite(record(record.id()), record.toBytes());
    }

    /** Moves an accepted upload into its build's directory. */
    public void adoptContext(String id, Path upload) throws IOException {
        FsFiles.createDirectories(dir(id));
        FsFiles.moveAtomically(upload, context(id));
    }

    /** Removes what only a waiting or running build needs: the uploaded context and the work directory. */
    public void removeTransient(String id) {
        try {
            Files.deleteIfExists(context(id));
            Files.deleteIfExists(contextToken(id));
        } catch (IOException ignored) {
            // removed again at the next start
        }
        Trees.deleteQuietly(work(id));
    }

    /** Every readable record; unreadable ones are reported to {@code problems} and skipped. */
    public List<BuildRecord> loadAll(Consumer<String> problems) throws IOException {
        List<BuildRecord> records = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root)) {
            for (Path dir : dirs) {
                String id = dir.getFileName().toString();
                if (!isId(id)) {
                    continue;
                }
                Path file = record(id);
                try {
                    records.add(BuildRecord.parse(Files.readAllBytes(file)));
                } catch (IOException | RuntimeException e) {
                    problems.accept("skipping build " + id + ": cannot read " + file + ": " + e.getMessage());
                }
            }
        }
        return records;
    }

    /** Empties {@code .incoming/}: uploads cut short by a crash or a stop. */
    public void clearIncoming() {
        Trees.deleteQuietly(incoming());
        try {
            FsFiles.createDirectories(incoming());
        } catch (IOException ignored) {
            // created again with the next upload
        }
    }
}
