package dev.kiln.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A git working tree that a test writes and commits into, then publishes as a bare repository
 * for {@link GitDaemon} or {@link GitHttpServer} to serve: the fixture of every git context test.
 */
public final class GitWork {
    private final Path dir;

    private GitWork(Path dir) {
        this.dir = dir;
    }

    /** {@code git init} on branch main in {@code dir}, which {@code git} creates. */
    public static GitWork init(Path dir) throws IOException {
        GitDaemon.git(dir.getParent(), "init", "--quiet", "-b", "main", dir.toString());
        return new GitWork(dir);
    }

    public Path dir() {
        return dir;
    }

    /** Writes a file of the tree, making its directories. */
    public GitWork write(String path, String content) throws IOException {
        Path file = dir.resolve(path);
        Files.createDirectories(file.getParent());
        Files.writeString(file, content);
        return this;
    }

    /** Commits everything in the tree ({@code extra}: more {@code git commit} arguments); the new commit's id. */
    public String commitAll(String message, String... extra) throws IOException {
        GitDaemon.git(dir, "add", ".");
        String[] args = new String[4 + extra.length];
        args[0] = "commit";
        args[1] = "--quiet";
        args[2] = "-m";
        args[3] = message;
        System.arraycopy(extra, 0, args, 4, extra.length);
        GitDaemon.git(dir, args);
        return GitDaemon.git(dir, "rev-parse", "HEAD").strip();
    }

    /** Any other git command in the tree; its output. */
    public String git(String... args) throws IOException {
        return GitDaemon.git(dir, args);
    }

    /** Clones the tree bare as {@code repos/name}, where the servers find it. */
    public Path publish(Path repos, String name) throws IOException {
        Path bare = repos.resolve(name);
        GitDaemon.git(dir.getParent(), "clone", "--quiet", "--bare", dir.toString(), bare.toString());
        return bare;
    }
}
