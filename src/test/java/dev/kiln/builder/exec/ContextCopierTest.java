package dev.kiln.builder.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.rootfs.RootfsPath;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** COPY/ADD details where Kiln once differed from BuildKit and buildah (found by GoldenBuildIT). */
class ContextCopierTest {
    @TempDir
    Path dir;

    private ContextCopier copier(Path context, Path rootfs) throws IOException {
        return new ContextCopier(context, true, DockerIgnore.of(List.of()), RootfsPath.of(rootfs));
    }

    @Test
    void aSymlinkNamedAsSourceIsFollowedAndKeepsItsOwnName() throws Exception {
        Path context = Files.createDirectories(dir.resolve("ctx"));
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        Files.writeString(context.resolve("single.txt"), "single\n");
        Files.createSymbolicLink(context.resolve("link"), Path.of("single.txt"));
        Files.createDirectories(context.resolve("dir"));
        Files.createSymbolicLink(context.resolve("dir/inner"), Path.of("../single.txt"));

        copier(context, rootfs).copy(List.of("link"), "/via-link.txt", null, false);
        copier(context, rootfs).copy(List.of("link"), "/into/", null, false);
        copier(context, rootfs).copy(List.of("dir"), "/tree", null, false);

        assertFalse(Files.isSymbolicLink(rootfs.resolve("via-link.txt")));
        assertEquals("single\n", Files.readString(rootfs.resolve("via-link.txt")));
        assertEquals("single\n", Files.readString(rootfs.resolve("into/link")));
        assertTrue(Files.isSymbolicLink(rootfs.resolve("tree/inner")), "a link inside a copied directory stays a link");
    }

    @Test
    void chownAlsoOwnsTheParentDirectoriesCopyCreates() throws Exception {
        Path context = Files.createDirectories(dir.resolve("ctx"));
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        Files.createDirectories(rootfs.resolve("existing"));
        Files.writeString(context.resolve("a.txt"), "a\n");

        copier(context, rootfs).copy(List.of("a.txt"), "/existing/new/parent/", new ContextCopier.Attributes(1000L, 1001L, null), false);

        assertEquals(List.of(0, 0), owner(rootfs.resolve("existing")), "an existing directory keeps its owner");
        assertEquals(List.of(1000, 1001), owner(rootfs.resolve("existing/new")));
        assertEquals(List.of(1000, 1001), owner(rootfs.resolve("existing/new/parent")));
        assertEquals(List.of(1000, 1001), owner(rootfs.resolve("existing/new/parent/a.txt")));
    }

    @Test
    void copyFromAStageKeepsOwnersAndFromTheContextMakesThemRoot() throws Exception {
        Path stage = Files.createDirectories(dir.resolve("stage/out/sub"));
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        Files.writeString(stage.resolve("owned.txt"), "owned\n");
        setOwner(stage, 1000, 1000);
        setOwner(stage.resolve("owned.txt"), 4242, 4343);

        new ContextCopier(dir.resolve("stage"), false, null, RootfsPath.of(rootfs))
                .copy(List.of("/out"), "/from-stage", new ContextCopier.Attributes(null, null, null), false);
        new ContextCopier(dir.resolve("stage"), true, DockerIgnore.of(List.of()), RootfsPath.of(rootfs))
                .copy(List.of("out"), "/from-context", new ContextCopier.Attributes(null, null, null), false);
        new ContextCopier(dir.resolve("stage"), false, null, RootfsPath.of(rootfs))
                .copy(List.of("/out"), "/chowned", new ContextCopier.Attributes(7L, 8L, null), false);

        assertEquals(List.of(0, 0), owner(rootfs.resolve("from-stage")), "the destination directory is made, as root");
        assertEquals(List.of(1000, 1000), owner(rootfs.resolve("from-stage/sub")));
        assertEquals(List.of(4242, 4343), owner(rootfs.resolve("from-stage/sub/owned.txt")));
        assertEquals(List.of(0, 0), owner(rootfs.resolve("from-context/sub/owned.txt")));
        assertEquals(List.of(7, 8), owner(rootfs.resolve("chowned/sub/owned.txt")));
    }

    @Test
    void chownByUidAloneUsesItAsGidAndByNameUsesThePrimaryGroup() throws Exception {
        Path rootfs = Files.createDirectories(dir.resolve("rootfs/etc")).getParent();
        Files.writeString(rootfs.resolve("etc/passwd"), "app:x:1000:1001:app:/home/app:/bin/sh\n");
        Files.writeString(rootfs.resolve("etc/group"), "app:x:1001:\nstaff:x:50:\n");
        RootfsPath root = RootfsPath.of(rootfs);
        assertEquals(new ContextCopier.Attributes(4242L, 4242L, null), ContextCopier.chown(root, "4242", null));
        assertEquals(new ContextCopier.Attributes(1000L, 1000L, null), ContextCopier.chown(root, "1000", null));
        assertEquals(new ContextCopier.Attributes(1000L, 1001L, 0600), ContextCopier.chown(root, "app", 0600));
        assertEquals(new ContextCopier.Attributes(1000L, 50L, null), ContextCopier.chown(root, "1000:staff", null));
        assertEquals(new ContextCopier.Attributes(4242L, 7L, null), ContextCopier.chown(root, "4242:7", null));
    }

    private static void setOwner(Path p, int uid, int gid) throws IOException {
        Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
    }

    @Test
    void addUnpacksTarsButCopiesACompressedFileThatIsNoTar() throws Exception {
        Path context = Files.createDirectories(dir.resolve("ctx"));
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        byte[] tar = tar("inside.txt", "inside\n");
        Files.write(context.resolve("plain.tar"), tar);
        Files.write(context.resolve("archive.tar.gz"), gzip(tar));
        Files.write(context.resolve("text.gz"), gzip("just text, no archive\n".getBytes(StandardCharsets.UTF_8)));
        Files.write(context.resolve("zeros.gz"), gzip(new byte[1024])); // an empty tar: only end-of-archive blocks

        assertTrue(AddArchive.isArchive(context.resolve("plain.tar")));
        assertTrue(AddArchive.isArchive(context.resolve("archive.tar.gz")));
        assertFalse(AddArchive.isArchive(context.resolve("text.gz")));
        assertFalse(AddArchive.isArchive(context.resolve("zeros.gz")));

        copier(context, rootfs).copy(List.of("text.gz", "archive.tar.gz"), "/add/", null, true);
        assertTrue(Files.isRegularFile(rootfs.resolve("add/text.gz")));
        assertEquals(Files.size(context.resolve("text.gz")), Files.size(rootfs.resolve("add/text.gz")));
        assertEquals("inside\n", Files.readString(rootfs.resolve("add/inside.txt")));
        assertFalse(Files.exists(rootfs.resolve("add/archive.tar.gz")));
    }

    @Test
    void addRecognisesBzip2XzAndZstdTarsByContentWhateverTheirName() throws Exception {
        Path context = Files.createDirectories(dir.resolve("ctx"));
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        byte[] tar = tar("inside.txt", "inside\n");
        Files.write(context.resolve("a.bin"), compressed(tar, "bzip2"));
        Files.write(context.resolve("b.bin"), compressed(tar, "xz"));
        Files.write(context.resolve("c.bin"), compressed(tar, "zstd"));
        Files.write(context.resolve("text.xz"), compressed("no tar\n".getBytes(StandardCharsets.UTF_8), "xz"));
        Files.write(context.resolve("text.bz2"), compressed("no tar\n".getBytes(StandardCharsets.UTF_8), "bzip2"));

        for (String name : List.of("a.bin", "b.bin", "c.bin")) {
            assertTrue(AddArchive.isArchive(context.resolve(name)), name);
            copier(context, rootfs).copy(List.of(name), "/" + name + "/", null, true);
            assertEquals("inside\n", Files.readString(rootfs.resolve(name + "/inside.txt")), name);
        }
        assertFalse(AddArchive.isArchive(context.resolve("text.xz")));
        assertFalse(AddArchive.isArchive(context.resolve("text.bz2")));
    }

    @Test
    void hardlinkedFilesStayOneInodeWithinOneSourceOnly() throws Exception {
        Path context = Files.createDirectories(dir.resolve("ctx/dir/sub"));
        context = context.getParent().getParent();
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        Files.writeString(context.resolve("dir/a"), "shared\n");
        Files.createLink(context.resolve("dir/b"), context.resolve("dir/a"));
        Files.createLink(context.resolve("dir/sub/c"), context.resolve("dir/a"));
        Files.writeString(context.resolve("dir/own"), "own\n");

        copier(context, rootfs).copy(List.of("dir"), "/tree", new ContextCopier.Attributes(null, null, 0600), false);
        copier(context, rootfs).copy(List.of("dir/a"), "/one", null, false);
        copier(context, rootfs).copy(List.of("dir/a", "dir/b"), "/pair/", null, false);

        Object inode = inode(rootfs.resolve("tree/a"));
        assertEquals(inode, inode(rootfs.resolve("tree/b")));
        assertEquals(inode, inode(rootfs.resolve("tree/sub/c")));
        assertEquals(3, Files.getAttribute(rootfs.resolve("tree/a"), "unix:nlink"));
        assertEquals(0600, (Integer) Files.getAttribute(rootfs.resolve("tree/b"), "unix:mode") & 07777);
        assertEquals(1, Files.getAttribute(rootfs.resolve("tree/own"), "unix:nlink"));
        assertEquals(1, Files.getAttribute(rootfs.resolve("one"), "unix:nlink"), "another COPY is another file");
        assertEquals("shared\n", Files.readString(rootfs.resolve("one")));
        assertEquals(1, Files.getAttribute(rootfs.resolve("pair/b"), "unix:nlink"), "each source is copied on its own");
    }

    @Test
    void whichNamesShareAnInodeIsPartOfTheCacheDigest() throws Exception {
        Path context = Files.createDirectories(dir.resolve("ctx/dir"));
        context = context.getParent();
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        Files.writeString(context.resolve("dir/a"), "same\n");
        Files.writeString(context.resolve("dir/b"), "same\n");
        String separate = copier(context, rootfs).digest(List.of("dir"));
        Files.delete(context.resolve("dir/b"));
        Files.createLink(context.resolve("dir/b"), context.resolve("dir/a"));
        assertFalse(separate.equals(copier(context, rootfs).digest(List.of("dir"))));
    }

    private static Object inode(Path p) throws IOException {
        return Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
    }

    /** Compressed by the real tool ({@code bzip2}, {@code xz}, {@code zstd}), as a user's archive would be. */
    private byte[] compressed(byte[] data, String tool) throws Exception {
        Path in = Files.createTempFile(dir, "in-", ".raw");
        Files.write(in, data);
        Process p = new ProcessBuilder(tool, "-c", "-q", in.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertEquals(0, p.waitFor(), tool + " failed");
        return out;
    }

    private static List<Integer> owner(Path p) throws IOException {
        return List.of((Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS),
                (Integer) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS));
    }

    private static byte[] tar(String name, String content) throws IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (TarArchiveOutputStream out = new TarArchiveOutputStream(bytes)) {
            byte[] data = content.getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry entry = new TarArchiveEntry(name);
            entry.setSize(data.length);
            entry.setMode(0100644);
            out.putArchiveEntry(entry);
            out.write(data);
            out.closeArchiveEntry();
        }
        return bytes.toByteArray();
    }

    private static byte[] gzip(byte[] data) throws IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (OutputStream out = new GZIPOutputStream(bytes)) {
            out.write(data);
        }
        return bytes.toByteArray();
    }
}
