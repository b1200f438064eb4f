package dev.kiln.builder.context;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.function.Consumer;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;

/**
 * A git repository named as an ADD source, BuildKit's spelling: {@code https://HOST/PATH.git[#REF][:SUBDIR]}
 * ({@code http://} too), {@code git://HOST/PATH[#REF][:SUBDIR]} (the git protocol, not kaniko's https
 * reading of a context). Cloned by {@link GitContext}, with its credential rule for submitted builds:
 * the git credentials go only to the hosts the operator lists in {@code GIT_CREDENTIAL_HOSTS}, since
 * the host is chosen by whoever wrote the Dockerfile. {@code git@HOST:PATH} and {@code ssh://} are
 * refused: Kiln carries no SSH transport.
 *
 * <p>The tree is made reproducible as BuildKit's {@code git.mtime=commit} makes it: every file,
 * link and directory gets the commit's time, so the same commit gives the same layer.
 */
public final class GitSource {
    private final GitContext git;

    private GitSource(GitContext git) {
        this.git = git;
    }

    /** Whether ADD reads {@code src} as a git repository rather than a file or a URL to download (BuildKit's rule). */
    public static boolean isGit(String src) {
        if (src.startsWith("git@") || src.startsWith("git://") || src.startsWith("ssh://")) {
            return true;
        }
        if (!src.startsWith("http://") && !src.startsWith("https://")) {
            return false;
        }
        String location = src.split("[#?]", 2)[0];
        return location.endsWith(".git");
    }

    /** Parses a source {@link #isGit} accepted; a refused spelling is a {@link ContextException} naming it. */
    public static GitSource parse(String src, Map<String, String> env, Consumer<String> debug) throws ContextException {
        if (src.startsWith("git@") || src.startsWith("ssh://")) {
            throw new ContextException("ADD " + src + ": git over ssh is not supported (Kiln has no SSH transport); "
                    + "use an https:// URL");
        }
        if (src.contains("?")) {
            throw new ContextException("ADD " + src + ": query options on a git URL are not supported; "
                    + "use URL#REF:SUBDIR and --keep-git-dir");
        }
        String location = src;
        String ref = null;
        String subdir = null;
        int hash = src.indexOf('#');
        if (hash >= 0) {
            location = src.substring(0, hash);
            String fragment = src.substring(hash + 1);
            int colon = fragment.indexOf(':');
            ref = colon < 0 ? fragment : fragment.substring(0, colon);
            subdir = colon < 0 ? null : fragment.substring(colon + 1);
        }
        GitContext context = new GitContext(location, ref == null || ref.isEmpty() ? null : ref, null,
                subdir == null || subdir.isEmpty() ? null : subdir, GitOptions.DEFAULT, env, debug);
        return new GitSource(context);
    }

    /**
     * Clones into {@code workDir} and answers the tree to copy: the repository (or its SUBDIR), without
     * {@code .git} unless {@code keepGitDir}, every mtime the commit's. With {@code checksum}, the
     * checked-out commit must be that one (a full id or its prefix), as BuildKit's ADD --checksum.
     */
    public Path fetch(Path workDir, boolean keepGitDir, String checksum) throws IOException {
        Path repo = workDir.resolve("context");
        Path tree = git.materialize(workDir);
        RevCommit head;
        try (Git g = Git.open(repo.toFile()); RevWalk walk = new RevWalk(g.getRepository())) {
            ObjectId id = g.getRepository().resolve(Constants.HEAD);
            head = walk.parseCommit(id);
        }
        if (checksum != null && !checksum.isEmpty() && !head.getName().startsWith(checksum.toLowerCase(java.util.Locale.ROOT))) {
            throw new ContextException("checksum mismatch for " + description() + ": expected commit " + checksum + ", got "
                    + head.getName());
        }
        if (!keepGitDir) {
            dev.kiln.builder.rootfs.Trees.deleteTree(repo.resolve(".git"));
        }
        FileTime time = FileTime.fromMillis(head.getCommitTime() * 1000L);
        Files.walkFileTree(tree, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                touch(file, time);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                touch(dir, time);
                return FileVisitResult.CONTINUE;
            }
        });
        return tree;
    }

    private static void touch(Path p, FileTime time) throws IOException {
        Files.getFileAttributeView(p, java.nio.file.attribute.BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .setTimes(time, null, null);
    }

    /** The source as written, without credentials, for messages. */
    public String description() {
        return git.description();
    }
}
