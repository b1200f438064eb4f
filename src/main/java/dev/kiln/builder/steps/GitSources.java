package dev.kiln.builder.steps;

import dev.kiln.builder.context.GitSource;
import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.Elapsed;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/** {@code ADD <git URL>}'s clones, once per build and source: the cache key reads the tree, then ADD copies it. */
public final class GitSources {
    private final Path buildDir;
    private final Map<String, String> env;
    private final Consumer<BuildEvent> events;
    private final Map<String, Path> done = new HashMap<>();

    GitSources(Path buildDir, Map<String, String> env, Consumer<BuildEvent> events) {
        this.buildDir = buildDir;
        this.env = Map.copyOf(env);
        this.events = events;
    }

    /** The tree {@code ADD src} copies; see {@link GitSource#fetch}. */
    public synchronized Path fetch(String src, boolean keepGitDir, String checksum) throws IOException, BuildException {
        String key = src + (keepGitDir ? " keep-git-dir" : "") + (checksum == null ? "" : " " + checksum);
        Path tree = done.get(key);
        if (tree != null) {
            return tree;
        }
        GitSource source;
        try {
            source = GitSource.parse(src, env, line -> events.accept(BuildEvent.Message.debug(line)));
        } catch (dev.kiln.builder.context.ContextException e) {
            throw new BuildException(e.getMessage());
        }
        Path work = Files.createTempDirectory(Files.createDirectories(buildDir.resolve("git")), "add-");
        long t0 = System.nanoTime();
        try {
            tree = source.fetch(work, keepGitDir, checksum);
        } catch (dev.kiln.builder.context.ContextException e) {
            throw new BuildException(e.getMessage().replaceFirst("^git context ", "ADD "));
        }
        events.accept(BuildEvent.Message.info("cloned " + source.description() + " (" + Elapsed.since(t0) + ")"));
        done.put(key, tree);
        return tree;
    }
}
