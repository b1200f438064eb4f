package dev.kiln.builder.context;

import static dev.kiln.testkit.GitDaemon.git;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.GitDaemon;
import dev.kiln.testkit.GitWork;
import dev.kiln.testkit.GitHttpServer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ADD of a git repository: BuildKit's spellings, served by real git http-backend and git daemon. */
class GitSourceTest {
    @TempDir
    static Path root;
    private static GitHttpServer http;
    private static GitDaemon daemon;
    private static String v1;
    private static long v1Time;

    @BeforeAll
    static void repository() throws Exception {
        Path repos = Files.createDirectories(root.resolve("repos"));
        http = GitHttpServer.serve(repos, false, root, null, null);
        daemon = GitDaemon.serve(repos);
        GitWork work = GitWork.init(root.resolve("work")).write("a.txt", "v1\n").write("docs/guide.md", "guide\n");
        v1 = work.commitAll("one", "--date", "2021-03-04T05:06:07Z");
        v1Time = Long.parseLong(work.git("log", "-1", "--format=%ct").strip());
        work.git("tag", "v1");
        work.write("a.txt", "v2\n").commitAll("two");
        work.publish(repos, "app.git");
    }

    @AfterAll
    static void stop() {
        if (http != null) {
            http.close();
        }
        if (daemon != null) {
            daemon.close();
        }
    }

    private static Path fetch(String src, boolean keepGitDir, String checksum) throws Exception {
        return GitSource.parse(src, Map.of(), line -> { }).fetch(Files.createTempDirectory(root, "add-"), keepGitDir, checksum);
    }

    @Test
    void gitSourcesAreRecognisedAsBuildKitDoes() {
        assertTrue(GitSource.isGit("https://example.invalid/org/app.git"));
        assertTrue(GitSource.isGit("https://example.invalid/org/app.git#v1:docs"));
        assertTrue(GitSource.isGit("git://example.invalid/org/app"));
        assertTrue(GitSource.isGit("git@example.invalid:org/app.git"));
        assertFalse(GitSource.isGit("https://example.invalid/app.tar.gz"), "a URL without .git is a download");
        assertFalse(GitSource.isGit("app.git"), "a local path");
    }

    @Test
    void aTagAndASubdirectoryOverHttpWithoutGitDir() throws Exception {
        Path tree = fetch(http.url("app.git") + "#v1", false, null);
        assertEquals("v1\n", Files.readString(tree.resolve("a.txt")));
        assertFalse(Files.exists(tree.resolve(".git")), ".git is dropped unless --keep-git-dir");
        Path docs = fetch(http.url("app.git") + "#main:docs", false, null);
        assertEquals(List.of("guide.md"), names(docs));
    }

    @Test
    void keepGitDirKeepsItAndTheGitProtocolWorks() throws Exception {
        Path tree = fetch("git://127.0.0.1:" + daemon.port() + "/app.git", true, null);
        assertEquals("v2\n", Files.readString(tree.resolve("a.txt")));
        assertTrue(Files.isRegularFile(tree.resolve(".git/HEAD")));
    }

    @Test
    void everyMtimeIsTheCommitTime() throws Exception {
        Path tree = fetch(http.url("app.git") + "#v1", false, null);
        try (Stream<Path> all = Files.walk(tree)) {
            for (Path p : all.toList()) {
                assertEquals(v1Time * 1000, Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toMillis(), p.toString());
            }
        }
    }

    @Test
    void aChecksumMustNameTheCheckedOutCommit() throws Exception {
        assertEquals("v1\n", Files.readString(fetch(http.url("app.git") + "#v1", false, v1).resolve("a.txt")));
        assertEquals("v1\n", Files.readString(fetch(http.url("app.git") + "#v1", false, v1.substring(0, 12)).resolve("a.txt")));
        ContextException e = assertThrows(ContextException.class, () -> fetch(http.url("app.git") + "#main", false, v1));
        assertTrue(e.getMessage().contains(": expected commit " + v1 + ", got "), e.getMessage());
    }

    @Test
    void sshIsRefusedWithALineThatSaysSo() {
        ContextException e = assertThrows(ContextException.class,
                () -> GitSource.parse("git@example.invalid:org/app.git", Map.of(), line -> { }));
        assertTrue(e.getMessage().contains("git over ssh is not supported"), e.getMessage());
    }

    private static List<String> names(Path dir) throws Exception {
        try (Stream<Path> list = Files.list(dir)) {
            return list.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
