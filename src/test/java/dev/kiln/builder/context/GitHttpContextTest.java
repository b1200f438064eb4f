package dev.kiln.builder.context;

import static dev.kiln.testkit.GitDaemon.git;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.GitHttpServer;
import dev.kiln.testkit.GitWork;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * git contexts cloned by JGit (no git binary involved on Kiln's side) from real {@code git http-backend}
 * over HTTPS with a user and token, and over plain HTTP: kaniko's spellings, refs, commits, a
 * subdirectory, submodules, and where credentials may and may not go.
 */
class GitHttpContextTest {
    private static final String USER = "kiln-ci";
    private static final String TOKEN = "glpat-kiln-test-token";

    @TempDir
    static Path root;
    private static GitHttpServer https;
    private static GitHttpServer plain;
    private static String firstCommit;

    @BeforeAll
    static void repositories() throws Exception {
        Path repos = Files.createDirectories(root.resolve("repos"));
        https = GitHttpServer.serve(repos, true, root, USER, TOKEN);
        plain = GitHttpServer.serve(repos, false, root, USER, TOKEN);

        GitWork lib = GitWork.init(root.resolve("lib-work")).write("lib.txt", "library\n");
        lib.commitAll("lib");
        lib.publish(repos, "lib.git");

        GitWork work = GitWork.init(root.resolve("work")).write("a.txt", "v1\n");
        firstCommit = work.commitAll("one");
        work.git("tag", "v1");
        work.write("a.txt", "v2\n").write("docker/Dockerfile", "FROM scratch\n");
        // a submodule on the same host, as most monorepos have them
        work.git("-c", "protocol.file.allow=always", "submodule", "--quiet", "add", repos.resolve("lib.git").toString(), "lib");
        work.git("config", "-f", ".gitmodules", "submodule.lib.url", https.url("lib.git"));
        work.commitAll("two");
        work.git("checkout", "--quiet", "-b", "feature");
        work.write("feature.txt", "f\n").commitAll("feature");
        work.git("checkout", "--quiet", "main");
        work.publish(repos, "app.git");
    }

    @AfterAll
    static void stop() {
        if (https != null) {
            https.close();
        }
        if (plain != null) {
            plain.close();
        }
    }

    private static Path clone(String spec, Map<String, String> env, GitOptions options, Path dir) throws IOException {
        Path work = Files.createDirectories(dir.resolve("w" + System.nanoTime()));
        List<String> debug = new ArrayList<>();
        try {
            return GitContext.parse(spec, options, env, debug::add).materialize(work);
        } catch (ContextException e) {
            throw new ContextException(e.getMessage() + " [debug: " + debug + "]", e);
        }
    }

    private static GitOptions flags(String... flags) throws ContextException {
        return GitOptions.parse(List.of(flags));
    }

    private static String kaniko(String repository) {
        // kaniko's git://HOST/REPO means HTTPS
        return https.url(repository).replace("https://", "git://");
    }

    @Test
    void tokenOverHttpsWithKanikosSpellings(@TempDir Path dir) throws Exception {
        Map<String, String> token = Map.of("GIT_TOKEN", "unused", "GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN);
        Path main = clone(kaniko("app.git"), Map.of("GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN),
                flags("insecure-skip-tls=true"), dir);
        assertEquals("v2\n", Files.readString(main.resolve("a.txt")));
        assertTrue(Files.isDirectory(main.resolve(".git")), "kaniko keeps .git in the context");

        Path tag = clone(kaniko("app.git") + "#refs/tags/v1", Map.of("GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN),
                flags("insecure-skip-tls=true"), dir);
        assertEquals("v1\n", Files.readString(tag.resolve("a.txt")));

        Path branch = clone(kaniko("app.git") + "#refs/heads/feature", Map.of("GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN),
                flags("insecure-skip-tls=true", "single-branch=true"), dir);
        assertTrue(Files.exists(branch.resolve("feature.txt")));

        Path pinned = clone(kaniko("app.git") + "#refs/heads/main#" + firstCommit,
                Map.of("GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN), flags("insecure-skip-tls=true", "depth=1"), dir);
        assertEquals("v1\n", Files.readString(pinned.resolve("a.txt")));

        Path commit = clone(kaniko("app.git") + "#" + firstCommit, Map.of("GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN),
                flags("insecure-skip-tls=true"), dir);
        assertEquals("v1\n", Files.readString(commit.resolve("a.txt")));

        Path subdir = clone(kaniko("app.git") + "#main:docker", Map.of("GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN),
                flags("insecure-skip-tls=true"), dir);
        assertEquals("FROM scratch\n", Files.readString(subdir.resolve("Dockerfile")));
        assertFalse(token.isEmpty());
    }

    @Test
    void gitTokenAloneIsTheUserAsKanikoSendsIt(@TempDir Path dir) throws Exception {
        try (GitHttpServer tokenOnly = GitHttpServer.serve(root.resolve("repos"), true, dir, TOKEN, "")) {
            Path ctx = clone("git+" + tokenOnly.url("app.git"), Map.of("GIT_TOKEN", TOKEN), flags("insecure-skip-tls=true"), dir);
            assertEquals("v2\n", Files.readString(ctx.resolve("a.txt")));
        }
    }

    @Test
    void submodulesOnTheSameHostGetTheCredentialsToo(@TempDir Path dir) throws Exception {
        Map<String, String> env = Map.of("GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN);
        Path with = clone(kaniko("app.git"), env, flags("insecure-skip-tls=true", "recurse-submodules=true"), dir);
        assertEquals("library\n", Files.readString(with.resolve("lib/lib.txt")));
        Path without = clone(kaniko("app.git"), env, flags("insecure-skip-tls=true"), dir);
        assertFalse(Files.exists(without.resolve("lib/lib.txt")));
    }

    @Test
    void anUntrustedCertificateIsAOneLineErrorUnlessInsecureSkipTls(@TempDir Path dir) {
        ContextException untrusted = assertThrows(ContextException.class,
                () -> clone(kaniko("app.git"), Map.of("GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN), flags(), dir));
        assertTrue(untrusted.getMessage().startsWith("git context "), untrusted.getMessage());
        assertTrue(untrusted.getMessage().toLowerCase().contains("ssl") || untrusted.getMessage().contains("certif"),
                untrusted.getMessage());
        assertFalse(untrusted.getMessage().contains(TOKEN), untrusted.getMessage());
    }

    @Test
    void credentialsAreNeverSentOverPlainHttp(@TempDir Path dir) {
        int before = plain.authorizations().size();
        ContextException refused = assertThrows(ContextException.class, () -> clone("git+" + plain.url("app.git"),
                Map.of("GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN), flags(), dir));
        assertTrue(refused.getMessage().contains("not authorized") || refused.getMessage().contains("Authentication"),
                refused.getMessage());
        assertEquals(before, plain.authorizations().size(), "plain HTTP saw credentials: " + plain.authorizations());
        assertFalse(refused.getMessage().contains(TOKEN), refused.getMessage());
    }

    @Test
    void credentialsGoOnlyToListedHostsAndTheGatewayListsNoneByDefault(@TempDir Path dir) throws Exception {
        Map<String, String> elsewhere = Map.of("GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN, "GIT_CREDENTIAL_HOSTS", "git.internal.test");
        int before = https.authorizations().size();
        assertThrows(ContextException.class, () -> clone(kaniko("app.git"), elsewhere, flags("insecure-skip-tls=true"), dir));
        GitOptions gateway = GitOptions.DEFAULT;
        GitOptions gatewaySkippingTls = new GitOptions(null, false, false, 0, true, gateway.credentialsForContextHost());
        assertThrows(ContextException.class, () -> clone(kaniko("app.git"), Map.of("GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN),
                gatewaySkippingTls, dir));
        assertEquals(before, https.authorizations().size(), "unlisted host saw credentials");

        Path listed = clone(kaniko("app.git"), Map.of("GIT_USERNAME", USER, "GIT_PASSWORD", TOKEN,
                "GIT_CREDENTIAL_HOSTS", "git.internal.test, 127.0.0.1"), gatewaySkippingTls, dir);
        assertEquals("v2\n", Files.readString(listed.resolve("a.txt")));
    }
}
