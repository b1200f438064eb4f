package dev.kiln.builder.context;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.kiln.builder.context.support.GitDaemon;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each context spelling against real things: system tar, a JDK HTTP server, a real {@code git daemon}. */
class ContextSourcesTest {
    private static Path gitRoot;
    private static GitDaemon gitDaemon;
    private static int gitPort;
    private static String firstCommit;
    private static String featureCommit;

    @BeforeAll
    static void gitDaemonServingABareRepository() throws Exception {
        gitRoot = Files.createTempDirectory("kiln-git-test");
        Path work = gitRoot.resolve("work");
        git(gitRoot, "init", "--quiet", "-b", "main", work.toString());
        Files.writeString(work.resolve("a.txt"), "v1\n");
        git(work, "add", "a.txt");
        git(work, "commit", "--quiet", "-m", "one");
        firstCommit = git(work, "rev-parse", "HEAD").strip();
        git(work, "tag", "v1");
        Files.writeString(work.resolve("a.txt"), "v2\n");
        Files.createDirectories(work.resolve("sub/dir"));
        Files.writeString(work.resolve("sub/dir/Dockerfile"), "FROM scratch\n");
        git(work, "add", ".");
        git(work, "commit", "--quiet", "-m", "two");
        git(work, "checkout", "--quiet", "-b", "feature");
        Files.writeString(work.resolve("feature.txt"), "feature\n");
        git(work, "add", "feature.txt");
        git(work, "commit", "--quiet", "-m", "feature");
        featureCommit = git(work, "rev-parse", "HEAD").strip();
        git(work, "checkout", "--quiet", "main");
        git(gitRoot, "clone", "--quiet", "--bare", work.toString(), gitRoot.resolve("repo.git").toString());
        git(gitRoot.resolve("repo.git"), "update-ref", "refs/pull/1/head", featureCommit);
        gitDaemon = GitDaemon.serve(gitRoot);
        gitPort = gitDaemon.port();
    }

    @AfterAll
    static void stopGitDaemon() throws Exception {
        if (gitDaemon != null) {
            gitDaemon.close();
        }
        new ProcessBuilder("rm", "-rf", gitRoot.toString()).start().waitFor();
    }

    private static ContextSources.Settings settings(boolean insecure, List<String> git) throws ContextException {
        return new ContextSources.Settings(Downloads.of(insecure, false), GitOptions.parse(git), Map.of(),
                new ByteArrayInputStream(new byte[0]), w -> { }, d -> { });
    }

    private static Path materialize(String spec, Path work) throws IOException {
        return materialize(spec, work, false, List.of());
    }

    private static Path materialize(String spec, Path work, boolean insecure, List<String> git) throws IOException {
        Files.createDirectories(work);
        return ContextSources.parse(spec, settings(insecure, git)).materialize(work);
    }

    @Test
    void aDirectoryIsUsedInPlaceWithOrWithoutDirScheme(@TempDir Path dir) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx"));
        assertEquals(ctx, materialize("dir://" + ctx, dir.resolve("w1")));
        assertEquals(ctx, materialize(ctx.toString(), dir.resolve("w2")));
        ContextException missing = assertThrows(ContextException.class,
                () -> materialize("dir://" + dir.resolve("nope"), dir.resolve("w3")));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
    }

    @Test
    void tarGzPlainTarAndStdinAreUnpacked(@TempDir Path dir) throws Exception {
        Path src = Files.createDirectories(dir.resolve("src/conf"));
        Files.writeString(src.resolve("app.conf"), "x=1\n");
        Files.createSymbolicLink(dir.resolve("src/link"), Path.of("conf/app.conf"));
        exec(dir, "tar", "-czf", "ctx.tar.gz", "-C", "src", ".");
        exec(dir, "tar", "-cf", "ctx.tar", "-C", "src", ".");
        for (String spec : List.of("tar://" + dir.resolve("ctx.tar.gz"), "tar://" + dir.resolve("ctx.tar"),
                dir.resolve("ctx.tar.gz").toString())) {
            Path ctx = materialize(spec, Files.createTempDirectory(dir, "w"));
            assertEquals("x=1\n", Files.readString(ctx.resolve("conf/app.conf")), spec);
            assertEquals(Path.of("conf/app.conf"), Files.readSymbolicLink(ctx.resolve("link")), spec);
        }
        ContextSource stdin = ContextSources.parse("tar://stdin", new ContextSources.Settings(Downloads.of(false, false),
                GitOptions.DEFAULT, Map.of(), Files.newInputStream(dir.resolve("ctx.tar.gz")), w -> { }, d -> { }));
        Path ctx = stdin.materialize(Files.createTempDirectory(dir, "w"));
        assertEquals("x=1\n", Files.readString(ctx.resolve("conf/app.conf")));
    }

    @Test
    void tarEntriesClimbingOutAreRefusedAndSymlinksStayInside(@TempDir Path dir) throws Exception {
        Path climbing = dir.resolve("climbing.tar");
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(Files.newOutputStream(climbing))) {
            file(tar, "ok.txt", "fine");
            file(tar, "../escaped.txt", "gotcha");
        }
        ContextException e = assertThrows(ContextException.class, () -> materialize("tar://" + climbing, dir.resolve("w1")));
        assertTrue(e.getMessage().contains("../escaped.txt") && !e.getMessage().contains("\n"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("escaped.txt")));
        assertFalse(Files.exists(dir.resolve("w1/escaped.txt")));

        Path outside = Files.createDirectories(dir.resolve("outside"));
        Path linking = dir.resolve("linking.tar");
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(Files.newOutputStream(linking))) {
            TarArchiveEntry link = new TarArchiveEntry("out", TarArchiveEntry.LF_SYMLINK);
            link.setLinkName(outside.toString());
            tar.putArchiveEntry(link);
            tar.closeArchiveEntry();
            file(tar, "out/pwned.txt", "gotcha");
        }
        Path ctx = materialize("tar://" + linking, dir.resolve("w2"));
        try (var listing = Files.list(outside)) {
            assertEquals(0, listing.count(), "a symlink in a context tar wrote outside the context");
        }
        assertEquals("gotcha", Files.readString(ctx.resolve(outside.toString().substring(1)).resolve("pwned.txt")));
    }

    @Test
    void aMissingOrCorruptTarIsOneLineError(@TempDir Path dir) throws Exception {
        ContextException missing = assertThrows(ContextException.class,
                () -> materialize("tar://" + dir.resolve("none.tar.gz"), dir.resolve("w1")));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        Files.writeString(dir.resolve("junk.tar.gz"), "this is not a tar archive at all, not even close".repeat(20));
        ContextException junk = assertThrows(ContextException.class,
                () -> materialize("tar://" + dir.resolve("junk.tar.gz"), dir.resolve("w2")));
        assertFalse(junk.getMessage().contains("\n"), junk.getMessage());
    }

    @Test
    void subPathStaysInsideTheContext(@TempDir Path dir) throws Exception {
        Path ctx = Files.createDirectories(dir.resolve("ctx/app/src"));
        Files.createSymbolicLink(dir.resolve("ctx/up"), Path.of("../.."));
        assertEquals(ctx.toRealPath(), ContextSources.subPath(dir.resolve("ctx"), "app/src"));
        assertEquals(dir.resolve("ctx").toRealPath(), ContextSources.subPath(dir.resolve("ctx"), "up"));
        assertThrows(ContextException.class, () -> ContextSources.subPath(dir.resolve("ctx"), "../"));
        assertThrows(ContextException.class, () -> ContextSources.subPath(dir.resolve("ctx"), "missing"));
    }

    @Test
    void httpContextsAreDownloadedAndPlainHttpNeedsInsecure(@TempDir Path dir) throws Exception {
        Path src = Files.createDirectories(dir.resolve("src"));
        Files.writeString(src.resolve("Dockerfile"), "FROM scratch\n");
        exec(dir, "tar", "-czf", "ctx.tar.gz", "-C", "src", ".");
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            Path file = dir.resolve(exchange.getRequestURI().getPath().substring(1));
            if (!Files.isRegularFile(file)) {
                exchange.sendResponseHeaders(404, -1);
            } else {
                exchange.sendResponseHeaders(200, Files.size(file));
                try (OutputStream out = exchange.getResponseBody()) {
                    Files.copy(file, out);
                }
            }
            exchange.close();
        });
        server.start();
        try {
            String base = "http://127.0.0.1:" + server.getAddress().getPort();
            Path ctx = materialize(base + "/ctx.tar.gz", dir.resolve("w1"), true, List.of());
            assertEquals("FROM scratch\n", Files.readString(ctx.resolve("Dockerfile")));
            assertFalse(Files.exists(dir.resolve("w1/context.download")), "the download is removed once unpacked");

            ContextException plain = assertThrows(ContextException.class,
                    () -> materialize(base + "/ctx.tar.gz", dir.resolve("w2"), false, List.of()));
            assertTrue(plain.getMessage().contains("--insecure"), plain.getMessage());
            ContextException notFound = assertThrows(ContextException.class,
                    () -> materialize(base + "/missing.tar.gz", dir.resolve("w3"), true, List.of()));
            assertTrue(notFound.getMessage().contains("HTTP 404"), notFound.getMessage());
        } finally {
            server.stop(0);
        }
        int closed = freePort();
        ContextException unreachable = assertThrows(ContextException.class,
                () -> materialize("http://127.0.0.1:" + closed + "/ctx.tar.gz", dir.resolve("w4"), true, List.of()));
        assertTrue(unreachable.getMessage().startsWith("cannot download build context"), unreachable.getMessage());
    }

    @Test
    void gitContextClonesARefThenACommitOverTheGitProtocol(@TempDir Path dir) throws Exception {
        String repo = "git+git://127.0.0.1:" + gitPort + "/repo.git";
        Path main = materialize(repo, dir.resolve("w1"));
        assertEquals("v2\n", Files.readString(main.resolve("a.txt")));
        assertFalse(Files.exists(main.resolve("feature.txt")));

        Path feature = materialize(repo + "#refs/heads/feature", dir.resolve("w2"));
        assertTrue(Files.exists(feature.resolve("feature.txt")));

        Path pinned = materialize(repo + "#refs/heads/main#" + firstCommit, dir.resolve("w3"));
        assertEquals("v1\n", Files.readString(pinned.resolve("a.txt")));

        Path tag = materialize(repo + "#refs/tags/v1", dir.resolve("w4"));
        assertEquals("v1\n", Files.readString(tag.resolve("a.txt")));

        Path pull = materialize(repo + "#refs/pull/1/head", dir.resolve("w5"));
        assertTrue(Files.exists(pull.resolve("feature.txt")));
    }

    @Test
    void gitFlagPicksTheBranchAndDepth(@TempDir Path dir) throws Exception {
        String repo = "git+git://127.0.0.1:" + gitPort + "/repo.git";
        Path shallow = materialize(repo, dir.resolve("w1"), false, List.of("branch=feature,single-branch=true", "depth=1"));
        assertTrue(Files.exists(shallow.resolve("feature.txt")));
        assertEquals("1", git(shallow, "rev-list", "--count", "HEAD").strip());
        assertEquals(featureCommit, git(shallow, "rev-parse", "HEAD").strip());
        Path old = materialize(repo + "#main#" + firstCommit, dir.resolve("w2"), false, List.of("depth=1"));
        assertEquals("v1\n", Files.readString(old.resolve("a.txt")));
    }

    @Test
    void wrongRefsAndCommitsAreOneLineErrors(@TempDir Path dir) throws Exception {
        String repo = "git+git://127.0.0.1:" + gitPort + "/repo.git";
        ContextException branch = assertThrows(ContextException.class,
                () -> materialize(repo + "#refs/heads/nope", dir.resolve("w1")));
        assertTrue(branch.getMessage().contains("nope") && branch.getMessage().startsWith("git context "), branch.getMessage());
        assertFalse(branch.getMessage().contains("\n"), branch.getMessage());
        ContextException commit = assertThrows(ContextException.class,
                () -> materialize(repo + "#main#0123456789abcdef0123456789abcdef01234567", dir.resolve("w2")));
        assertFalse(commit.getMessage().contains("\n"), commit.getMessage());
        ContextException missingRepo = assertThrows(ContextException.class,
                () -> materialize("git+git://127.0.0.1:" + gitPort + "/absent.git", dir.resolve("w3")));
        assertTrue(missingRepo.getMessage().contains("absent.git"), missingRepo.getMessage());
        assertThrows(ContextException.class, () -> GitOptions.parse(List.of("depth=many")));
        assertThrows(ContextException.class, () -> GitOptions.parse(List.of("colour=blue")));
    }

    @Test
    void kanikoGitUrlsMeanHttpsAndOtherTransportsAreNamedWithGitPlus() throws Exception {
        assertEquals("https://github.com/org/repo.git",
                GitContext.parse("git://github.com/org/repo.git#main", GitOptions.DEFAULT, Map.of(), d -> { }).url());
        assertEquals("http://gitea.local/org/repo", GitContext.parse("git://gitea.local/org/repo",
                GitOptions.DEFAULT, Map.of("GIT_PULL_METHOD", "http"), d -> { }).url());
        assertEquals("git://127.0.0.1:9418/repo.git",
                GitContext.parse("git+git://127.0.0.1:9418/repo.git", GitOptions.DEFAULT, Map.of(), d -> { }).url());
        assertEquals("file:///srv/repo.git",
                GitContext.parse("git+file:///srv/repo.git#main", GitOptions.DEFAULT, Map.of(), d -> { }).url());
        ContextException other = assertThrows(ContextException.class,
                () -> ContextSources.parse("ftp://host/ctx.tar.gz", ContextSources.Settings.local()));
        assertTrue(other.getMessage().contains("unsupported build context"), other.getMessage());
    }

    @Test
    void recurseSubmodulesChecksThemOut(@TempDir Path dir) throws Exception {
        Path lib = gitRoot.resolve("lib-work");
        git(gitRoot, "init", "--quiet", "-b", "main", lib.toString());
        Files.writeString(lib.resolve("lib.txt"), "library\n");
        git(lib, "add", ".");
        git(lib, "commit", "--quiet", "-m", "lib");
        git(gitRoot, "clone", "--quiet", "--bare", lib.toString(), gitRoot.resolve("lib.git").toString());
        Path app = gitRoot.resolve("app-work");
        git(gitRoot, "init", "--quiet", "-b", "main", app.toString());
        git(app, "submodule", "--quiet", "add", "git://127.0.0.1:" + gitPort + "/lib.git", "lib");
        git(app, "commit", "--quiet", "-m", "with lib");
        git(gitRoot, "clone", "--quiet", "--bare", app.toString(), gitRoot.resolve("app.git").toString());
        String repo = "git+git://127.0.0.1:" + gitPort + "/app.git";
        Path with = materialize(repo, dir.resolve("w1"), false, List.of("recurse-submodules=true"));
        assertEquals("library\n", Files.readString(with.resolve("lib/lib.txt")));
        Path without = materialize(repo, dir.resolve("w2"), false, List.of());
        assertFalse(Files.exists(without.resolve("lib/lib.txt")));
    }

    @Test
    void gitPlusFileClonesALocalRepository(@TempDir Path dir) throws Exception {
        Path ctx = materialize("git+file://" + gitRoot.resolve("repo.git") + "#feature", dir.resolve("w"));
        assertTrue(Files.exists(ctx.resolve("feature.txt")));
    }

    private static void file(TarArchiveOutputStream tar, String name, String content) throws IOException {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry entry = new TarArchiveEntry(name, true);
        entry.setSize(bytes.length);
        entry.setMode(0100644);
        tar.putArchiveEntry(entry);
        tar.write(bytes);
        tar.closeArchiveEntry();
    }

    static String git(Path dir, String... args) throws IOException {
        return GitDaemon.git(dir, args);
    }

    static String exec(Path dir, String... command) throws IOException {
        return GitDaemon.run(dir, List.of(command));
    }

    static int freePort() throws IOException {
        return GitDaemon.freePort();
    }
}
