package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.GitDaemon;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** The build contexts of {@link GoldenBuildIT}'s cases, with what a git checkout cannot hold. */
final class GoldenContexts {

    private GoldenContexts() {
    }

    /**
     * The case's files copied to a fresh context with the modes git cannot be trusted to keep
     * (0644 files, 0755 directories), plus what a checkout cannot hold: symlinks, empty
     * directories and generated archives.
     */
    static Path prepare(Path cases, Path work, String name) throws IOException {
        Path source = cases.resolve(name);
        assertTrue(Files.isDirectory(source), "no golden case directory " + source.toAbsolutePath());
        Path context = work.resolve("contexts").resolve(name);
        Tools.run(List.of("rm", "-rf", context.toString()), Map.of(), 60);
        Files.createDirectories(context.getParent());
        ExecResult copy = Tools.run(List.of("cp", "-r", source.toString(), context.toString()), Map.of(), 60);
        assertTrue(copy.ok(), copy.output());
        try (Stream<Path> all = Files.walk(context)) {
            for (Path p : all.toList()) {
                Files.setAttribute(p, "unix:mode", Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? 0755 : 0644);
            }
        }
        switch (name) {
            case "copy-dirs" -> {
                Files.createSymbolicLink(context.resolve("link-to-single"), Path.of("single.txt"));
                Files.createSymbolicLink(context.resolve("dir/inner-link"), Path.of("a"));
                Files.createDirectory(context.resolve("emptydir"));
            }
            case "add-chown" -> makeArchive(work, context.resolve("archive.tar.gz"));
            case "context-hardlinks" -> {
                Files.createLink(context.resolve("dir/b.txt"), context.resolve("dir/a.txt"));
                Files.createDirectories(context.resolve("dir/sub"));
                Files.createLink(context.resolve("dir/sub/c.txt"), context.resolve("dir/a.txt"));
                Files.createLink(context.resolve("partner.txt"), context.resolve("single.txt"));
            }
            case "add-compressed" -> {
                Path tree = archiveTree(work);
                Path plain = context.resolve("tree.raw");
                tar(List.of("tar", "--numeric-owner", "--owner=1234", "--group=5678", "-cf", plain.toString(), "-C",
                        tree.toString(), "top"));
                compress(plain, context.resolve("tree.tar.xz"), "xz");
                compress(plain, context.resolve("tree.tbz"), "bzip2");
                compress(plain, context.resolve("tree.bin"), "zstd");
                compress(plain, context.resolve("tree.gzip-inside"), "gzip");
                Path notes = Files.writeString(work.resolve("notes.txt"), "compressed, not an archive\n");
                compress(notes, context.resolve("notes.txt.xz"), "xz");
                compress(notes, context.resolve("notes.txt.bz2"), "bzip2");
            }
            case "add-archives" -> {
                makeArchive(work, context.resolve("archive.tar.gz"));
                Path plain = Files.createDirectories(work.resolve("plain-src/plain"));
                Files.writeString(plain.resolve("one.txt"), "one\n");
                tar(List.of("tar", "--numeric-owner", "--owner=0", "--group=0", "-cf", context.resolve("plain.tar").toString(),
                        "-C", plain.getParent().toString(), "plain"));
                Path text = context.resolve("notatar.txt");
                Files.writeString(text, "compressed, but not an archive\n");
                tar(List.of("gzip", "-n", text.toString()));
            }
            default -> {
            }
        }
        return context;
    }

    /**
     * The bare repository {@code app.git} the add-git case reads: tag v1 holds a.txt and docs/guide.md;
     * main then changes a.txt and adds tools/run.sh (0755). Answers the directory that holds it.
     */
    static Path gitRepositories(Path work) throws IOException {
        Path repos = Files.createDirectories(work.resolve("git"));
        Path tree = work.resolve("git-work");
        GitDaemon.git(work, "init", "--quiet", "-b", "main", tree.toString());
        Files.createDirectories(tree.resolve("docs"));
        Files.writeString(tree.resolve("a.txt"), "v1\n");
        Files.writeString(tree.resolve("docs/guide.md"), "guide\n");
        GitDaemon.git(tree, "add", ".");
        GitDaemon.git(tree, "commit", "--quiet", "-m", "v1");
        GitDaemon.git(tree, "tag", "v1");
        Files.writeString(tree.resolve("a.txt"), "v2\n");
        Files.createDirectories(tree.resolve("tools"));
        Files.writeString(tree.resolve("tools/run.sh"), "#!/bin/sh\necho run\n");
        Files.setAttribute(tree.resolve("tools/run.sh"), "unix:mode", 0755);
        GitDaemon.git(tree, "add", ".");
        GitDaemon.git(tree, "commit", "--quiet", "-m", "main");
        GitDaemon.git(work, "clone", "--quiet", "--bare", tree.toString(), repos.resolve("app.git").toString());
        return repos;
    }

    /** top/file.txt, top/sub/exec.sh (0755), top/link -> file.txt, owned 1234:5678 as stored in the archive. */
    static void makeArchive(Path work, Path archive) throws IOException {
        tar(List.of("tar", "--numeric-owner", "--owner=1234", "--group=5678", "-czf", archive.toString(), "-C",
                archiveTree(work).toString(), "top"));
    }

    /** The tree the archives hold: top/ (0750), top/file.txt, top/sub/exec.sh (0755), top/link -> file.txt, top/sub/hard (a hardlink of file.txt). */
    private static Path archiveTree(Path work) throws IOException {
        Path src = Files.createTempDirectory(work, "archive-");
        Path top = Files.createDirectories(src.resolve("top/sub"));
        Files.writeString(src.resolve("top/file.txt"), "from the archive\n");
        Files.writeString(top.resolve("exec.sh"), "#!/bin/sh\necho hi\n");
        Files.setAttribute(top.resolve("exec.sh"), "unix:mode", 0755);
        Files.setAttribute(src.resolve("top"), "unix:mode", 0750);
        Files.createSymbolicLink(src.resolve("top/link"), Path.of("file.txt"));
        Files.createLink(top.resolve("hard"), src.resolve("top/file.txt"));
        return src;
    }

    /** {@code compressor -c FILE > OUT} (xz, bzip2, zstd, gzip -n). */
    private static void compress(Path file, Path out, String compressor) {
        String flags = compressor.equals("gzip") ? "-nc" : compressor.equals("zstd") ? "-qc" : "-c";
        tar(List.of("sh", "-c", compressor + " " + flags + " \"$1\" > \"$2\"", "sh", file.toString(), out.toString()));
    }

    private static void tar(List<String> command) {
        ExecResult result = Tools.run(command, Map.of(), 60);
        assertTrue(result.ok(), String.join(" ", command) + ": " + result.output());
    }
}
