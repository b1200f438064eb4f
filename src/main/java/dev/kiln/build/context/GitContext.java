package dev.kiln.build.context;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A git repository as the context, cloned with the system's {@code git} into the work directory.
 *
 * <p>Spellings: {@code git://HOST/PATH#REF#COMMIT} is kaniko's: fetched over HTTPS (or the scheme in
 * {@code GIT_PULL_METHOD}, e.g. {@code http}), not the git protocol. Any other transport is named
 * with a {@code git+} prefix and passed to git as is: {@code git+git://} (the git protocol, e.g. a
 * {@code git daemon}), {@code git+https://}, {@code git+http://}, {@code git+ssh://}, {@code git+file://}.
 * {@code REF} is a branch or tag ({@code main}, {@code refs/heads/main}, {@code refs/tags/v1}) or any
 * other ref ({@code refs/pull/7/head}), fetched and checked out; {@code COMMIT} is then checked out.
 * Credentials for HTTP(S) come from {@code GIT_USERNAME}/{@code GIT_PASSWORD} or {@code GIT_TOKEN}, as
 * kaniko reads them, and reach git through its environment, never its command line.
 */
final class GitContext implements ContextSource {
    private final String url;
    private final String ref;
    private final String commit;
    private final GitOptions options;
    private final Map<String, String> env;
    private final Consumer<String> debug;

    GitContext(String url, String ref, String commit, GitOptions options, Map<String, String> env, Consumer<String> debug) {
        this.url = url;
        this.ref = ref;
        this.commit = commit;
        this.options = options;
        this.env = Map.copyOf(env);
        this.debug = debug;
    }

    /** Parses {@code git://…} and {@code git+SCHEME://…} specs; see the class comment. */
    static GitContext parse(String spec, GitOptions options, Map<String, String> env, Consumer<String> debug)
            throws ContextException {
        String[] parts = spec.split("#", -1);
        if (parts.length > 3) {
            throw new ContextException("build context " + spec + ": expected URL[#REF[#COMMIT]]");
        }
        String location = parts[0];
        String url;
        if (location.startsWith("git+")) {
            url = location.substring("git+".length());
        } else {
            String method = env.getOrDefault("GIT_PULL_METHOD", "https");
            if (!method.equals("https") && !method.equals("http")) {
                throw new ContextException("GIT_PULL_METHOD=" + method + ": expected https or http");
            }
            url = method + "://" + location.substring("git://".length());
        }
        if (!url.matches("^(git|https?|ssh|file)://.+")) {
            throw new ContextException("build context " + spec + ": git+ takes git://, http(s)://, ssh:// or file:// URLs");
        }
        String ref = parts.length > 1 && !parts[1].isEmpty() ? parts[1] : null;
        String commit = parts.length > 2 && !parts[2].isEmpty() ? parts[2] : null;
        return new GitContext(url, ref, commit, options, env, debug);
    }

    /** The URL handed to git (for tests and messages). */
    String url() {
        return url;
    }

    @Override
    public Path materialize(Path workDir) throws IOException {
        Path dir = workDir.resolve("context");
        String branch = ref != null ? branchName(ref) : options.branch();
        boolean otherRef = ref != null && branch == null;
        List<String> clone = new ArrayList<>(List.of("clone", "--quiet"));
        if (options.depth() > 0) {
            clone.add("--depth=" + options.depth());
        }
        if (options.singleBranch()) {
            clone.add("--single-branch");
        }
        if (branch != null) {
            clone.add("--branch=" + branch);
        }
        clone.addAll(List.of("--", url, dir.toString()));
        git(workDir, clone);
        if (otherRef) {
            git(dir, depthArgs("fetch", "--quiet", "origin", ref));
            git(dir, List.of("checkout", "--quiet", "--detach", "FETCH_HEAD"));
        }
        if (commit != null) {
            try {
                git(dir, List.of("checkout", "--quiet", "--detach", commit));
            } catch (ContextException notInTheClone) {
                // a shallow or single-branch clone may not hold the commit: ask for it by name
                git(dir, depthArgs("fetch", "--quiet", "origin", commit));
                git(dir, List.of("checkout", "--quiet", "--detach", commit));
            }
        }
        if (options.recurseSubmodules()) {
            git(dir, depthArgs("submodule", "--quiet", "update", "--init", "--recursive"));
        }
        return dir;
    }

    private List<String> depthArgs(String... args) {
        List<String> list = new ArrayList<>(List.of(args));
        if (options.depth() > 0) {
            list.add(args[0].equals("submodule") ? 3 : 2, "--depth=" + options.depth());
        }
        return list;
    }

    /** {@code main}, {@code refs/heads/main} and {@code refs/tags/v1} can be cloned by name; other refs cannot. */
    static String branchName(String ref) {
        if (ref.startsWith("refs/heads/")) {
            return ref.substring("refs/heads/".length());
        }
        if (ref.startsWith("refs/tags/")) {
            return ref.substring("refs/tags/".length());
        }
        return ref.startsWith("refs/") ? null : ref;
    }

    private void git(Path dir, List<String> args) throws IOException {
        List<String> command = new ArrayList<>(List.of("git", "-c", "advice.detachedHead=false"));
        command.addAll(args);
        debug.accept("git " + String.join(" ", args));
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Map<String, String> processEnv = builder.environment();
        processEnv.putAll(gitEnvironment());
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new ContextException("git context " + description() + ": cannot run git (" + e.getMessage()
                    + "); install git to build from a repository", e);
        }
        process.getOutputStream().close();
        CompletableFuture<String> stderr = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        });
        int exit;
        try {
            exit = process.waitFor();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new ContextException("git context " + description() + ": interrupted");
        }
        if (exit != 0) {
            throw new ContextException("git context " + description() + ": git " + args.get(0) + " failed: "
                    + reason(stderr.join(), exit));
        }
    }

    private Map<String, String> gitEnvironment() {
        Map<String, String> out = new HashMap<>();
        out.put("GIT_TERMINAL_PROMPT", "0");
        out.put("GIT_HTTP_LOW_SPEED_LIMIT", "1000");
        out.put("GIT_HTTP_LOW_SPEED_TIME", "60");
        if (options.insecureSkipTls()) {
            out.put("GIT_SSL_NO_VERIFY", "true");
        }
        String token = env.getOrDefault("GIT_TOKEN", "");
        String user = token.isEmpty() ? env.getOrDefault("GIT_USERNAME", "") : token;
        String password = token.isEmpty() ? env.getOrDefault("GIT_PASSWORD", "") : "";
        if (!user.isEmpty() && url.startsWith("http")) {
            String basic = Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
            out.put("GIT_CONFIG_COUNT", "1");
            out.put("GIT_CONFIG_KEY_0", "http.extraHeader");
            out.put("GIT_CONFIG_VALUE_0", "Authorization: Basic " + basic);
        }
        return out;
    }

    /** git's own explanation: its fatal/error lines, else its last line. */
    private static String reason(String stderr, int exit) {
        List<String> lines = new ArrayList<>();
        String last = "";
        for (String line : stderr.split("\n")) {
            String trimmed = line.strip();
            if (trimmed.startsWith("fatal:") || trimmed.startsWith("error:")) {
                lines.add(trimmed);
            }
            if (!trimmed.isEmpty()) {
                last = trimmed;
            }
        }
        String text = lines.isEmpty() ? last : String.join("; ", lines);
        return text.isEmpty() ? "exit code " + exit : text;
    }

    @Override
    public String description() {
        String shown = url.replaceFirst("://[^/@]*@", "://");
        return shown + (ref == null ? "" : "#" + ref) + (commit == null ? "" : "#" + commit);
    }
}
