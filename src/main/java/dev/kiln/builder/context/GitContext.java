package dev.kiln.builder.context;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.eclipse.jgit.api.CloneCommand;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.TransportCommand;
import org.eclipse.jgit.api.errors.GitAPIException;
import org.eclipse.jgit.api.errors.JGitInternalException;
import org.eclipse.jgit.errors.UnsupportedCredentialItem;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.submodule.SubmoduleWalk;
import org.eclipse.jgit.transport.CredentialItem;
import org.eclipse.jgit.transport.CredentialsProvider;
import org.eclipse.jgit.transport.RefSpec;
import org.eclipse.jgit.transport.URIish;

/**
 * A git repository as the context, cloned with JGit (no {@code git} binary needed) into the work directory.
 *
 * <p>Spellings: {@code git://HOST/PATH[#REF[#COMMIT]][:SUBDIR]} is kaniko's: fetched over HTTPS (or the
 * scheme in {@code GIT_PULL_METHOD}, e.g. {@code http}), not the git protocol. Any other transport is
 * named with a {@code git+} prefix: {@code git+git://} (the git protocol, e.g. a {@code git daemon}),
 * {@code git+https://}, {@code git+http://}, {@code git+file://}. {@code REF} is a branch or tag
 * ({@code main}, {@code refs/heads/main}, {@code refs/tags/v1}), any other ref ({@code refs/pull/7/head}),
 * or a commit id; {@code COMMIT} is then checked out. {@code :SUBDIR} after the last fragment (Docker's
 * form; git refs cannot contain a colon) makes a directory of the repository the context.
 *
 * <p>HTTP credentials come from {@code GIT_USERNAME}/{@code GIT_PASSWORD} or {@code GIT_TOKEN}, as kaniko
 * reads them. They are offered only over HTTPS and only to the hosts in {@code GIT_CREDENTIAL_HOSTS}
 * (comma-separated) or, when that is unset and the options allow it (the command line, where whoever
 * wrote the context is the operator), to the context's own host: never to a host a submitter names.
 */
final class GitContext implements ContextSource {
    private static final int TIMEOUT_SECONDS = 60;

    private final String url;
    private final String ref;
    private final String commit;
    private final String subdir;
    private final GitOptions options;
    private final Map<String, String> env;
    private final Consumer<String> debug;

    GitContext(String url, String ref, String commit, String subdir, GitOptions options, Map<String, String> env,
               Consumer<String> debug) {
        this.url = url;
        this.ref = ref;
        this.commit = commit;
        this.subdir = subdir;
        this.options = options;
        this.env = Map.copyOf(env);
        this.debug = debug;
    }

    /** Parses {@code git://…} and {@code git+SCHEME://…} specs; see the class comment. */
    static GitContext parse(String spec, GitOptions options, Map<String, String> env, Consumer<String> debug)
            throws ContextException {
        String[] parts = spec.split("#", -1);
        if (parts.length > 3) {
            throw new ContextException("build context " + spec + ": expected URL[#REF[#COMMIT]][:SUBDIR]");
        }
        String subdir = null;
        if (parts.length > 1) {
            String last = parts[parts.length - 1];
            int colon = last.indexOf(':');
            if (colon >= 0) {
                subdir = last.substring(colon + 1);
                parts[parts.length - 1] = last.substring(0, colon);
                if (subdir.isEmpty()) {
                    subdir = null;
                }
            }
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
        if (!url.matches("^(git|https?|file)://.+")) {
            throw new ContextException("build context " + spec + ": git+ takes git://, http(s):// or file:// URLs");
        }
        String ref = parts.length > 1 && !parts[1].isEmpty() ? parts[1] : null;
        String commit = parts.length > 2 && !parts[2].isEmpty() ? parts[2] : null;
        return new GitContext(url, ref, commit, subdir, options, env, debug);
    }

    /** The URL cloned (for tests and messages). */
    String url() {
        return url;
    }

    String subdir() {
        return subdir;
    }

    @Override
    public Path materialize(Path workDir) throws IOException {
        Path dir = workDir.resolve("context");
        String branch = ref != null ? branchName(ref) : options.branch();
        boolean otherRef = ref != null && branch == null;
        CloneCommand clone = transport(Git.cloneRepository()).setURI(url).setDirectory(dir.toFile())
                .setCloneSubmodules(false);
        if (options.depth() > 0) {
            clone.setDepth(options.depth());
        }
        if (branch != null) {
            clone.setBranch(branch);
            if (options.singleBranch()) {
                clone.setCloneAllBranches(false).setBranchesToClone(List.of(fullName(branch)));
            }
        } else {
            clone.setCloneAllBranches(!options.singleBranch());
        }
        debug.accept("git clone " + description());
        try (Git git = run(clone::call, "clone")) {
            if (otherRef) {
                ObjectId id = fetch(git, ref);
                checkout(git, id.name());
            }
            if (commit != null) {
                checkout(git, commitInClone(git, commit).name());
            }
            if (options.recurseSubmodules()) {
                updateSubmodules(git.getRepository());
            }
        }
        if (subdir == null) {
            return dir;
        }
        return ContextSources.subPath(dir, subdir);
    }

    /** A ref that is no branch or tag: fetched by name, or a commit id the clone already holds. */
    private ObjectId fetch(Git git, String name) throws IOException {
        if (name.matches("[0-9a-f]{7,40}")) {
            ObjectId known = resolve(git, name);
            if (known != null) {
                return known;
            }
        }
        String local = "refs/kiln/context";
        run(() -> transport(git.fetch()).setRefSpecs(new RefSpec("+" + name + ":" + local)).call(), "fetch " + name);
        ObjectId id = resolve(git, local);
        if (id == null) {
            throw new ContextException("git context " + description() + ": " + name + " is not in the repository");
        }
        return id;
    }

    /** The commit, from the clone or, when a shallow or single-branch clone lacks it, fetched by id. */
    private ObjectId commitInClone(Git git, String wanted) throws IOException {
        ObjectId id = resolve(git, wanted);
        if (id != null) {
            return id;
        }
        try {
            return fetch(git, wanted);
        } catch (ContextException refusedById) {
            // servers that refuse a bare commit id still serve the whole history
            debug.accept("fetching " + wanted + " by id failed (" + refusedById.getMessage() + "): fetching all history");
            run(() -> transport(git.fetch()).setUnshallow(options.depth() > 0)
                    .setRefSpecs(new RefSpec("+refs/heads/*:refs/remotes/origin/*"), new RefSpec("+refs/tags/*:refs/tags/*"))
                    .call(), "fetch");
            id = resolve(git, wanted);
            if (id == null) {
                throw new ContextException("git context " + description() + ": commit " + wanted + " is not in the repository");
            }
            return id;
        }
    }

    /** The commit {@code name} means in the clone, or null when the clone does not hold it. */
    private static ObjectId resolve(Git git, String name) {
        try {
            return git.getRepository().resolve(name + "^{commit}");
        } catch (IOException | RuntimeException notHere) {
            return null;
        }
    }

    private void checkout(Git git, String id) throws IOException {
        run(() -> git.checkout().setName(id).setForced(true).call(), "checkout " + id);
    }

    private void updateSubmodules(Repository repository) throws IOException {
        try (Git git = new Git(repository)) {
            run(() -> git.submoduleInit().call(), "submodule init");
            run(() -> transport(git.submoduleUpdate()).call(), "submodule update");
        }
        try (SubmoduleWalk walk = SubmoduleWalk.forIndex(repository)) {
            while (walk.next()) {
                try (Repository sub = walk.getRepository()) {
                    if (sub != null) {
                        updateSubmodules(sub);
                    }
                }
            }
        }
    }

    private <C extends TransportCommand<C, ?>> C transport(C command) {
        return command.setTimeout(TIMEOUT_SECONDS).setCredentialsProvider(new ScopedCredentials());
    }

    private interface GitCall<T> {
        T call() throws GitAPIException;
    }

    private <T> T run(GitCall<T> call, String what) throws ContextException {
        try {
            return call.call();
        } catch (GitAPIException | JGitInternalException e) {
            throw new ContextException("git context " + description() + ": git " + what + " failed: " + reason(e), e);
        }
    }

    /** The innermost useful message, on one line and without credentials. */
    private static String reason(Throwable e) {
        List<String> messages = new ArrayList<>();
        for (Throwable t = e; t != null && messages.size() < 4; t = t.getCause()) {
            String message = t.getMessage();
            if (message != null && !message.isBlank() && messages.stream().noneMatch(m -> m.contains(message.strip()))) {
                messages.add(message.strip());
            }
        }
        String text = messages.isEmpty() ? e.getClass().getSimpleName() : String.join(": ", messages);
        return text.replaceAll("\\s*\\R\\s*", " ").replaceAll("://[^/@\\s]*@", "://");
    }

    /** {@code main}, {@code refs/heads/main} and {@code refs/tags/v1} can be cloned by name; other refs cannot. */
    static String branchName(String ref) {
        if (ref.startsWith("refs/heads/")) {
            return ref.substring("refs/heads/".length());
        }
        if (ref.startsWith("refs/tags/")) {
            return ref;
        }
        if (ref.matches("[0-9a-f]{40}")) {
            return null;
        }
        return ref.startsWith("refs/") ? null : ref;
    }

    private static String fullName(String branch) {
        return branch.startsWith("refs/") ? branch : "refs/heads/" + branch;
    }

    /** The hosts the credentials may go to; empty when none may. */
    Set<String> credentialHosts() {
        String listed = env.getOrDefault("GIT_CREDENTIAL_HOSTS", "");
        if (!listed.isBlank()) {
            return Arrays.stream(listed.split(",")).map(h -> h.strip().toLowerCase(Locale.ROOT)).filter(h -> !h.isEmpty())
                    .collect(Collectors.toUnmodifiableSet());
        }
        if (!options.credentialsForContextHost()) {
            return Set.of();
        }
        String host = URI.create(url).getHost();
        return host == null ? Set.of() : Set.of(host.toLowerCase(Locale.ROOT));
    }

    /**
     * Answers JGit's questions: the user and password (over HTTPS, to the allowed hosts), and "skip
     * the certificate check?" with {@code insecure-skip-tls}.
     */
    private final class ScopedCredentials extends CredentialsProvider {
        private final String user;
        private final String password;
        private final Set<String> hosts = credentialHosts();

        ScopedCredentials() {
            String token = env.getOrDefault("GIT_TOKEN", "");
            user = token.isEmpty() ? env.getOrDefault("GIT_USERNAME", "") : token;
            password = token.isEmpty() ? env.getOrDefault("GIT_PASSWORD", "") : "";
        }

        private boolean mayAuthenticate(URIish uri) {
            return !user.isEmpty() && uri != null && "https".equals(uri.getScheme()) && uri.getHost() != null
                    && hosts.contains(uri.getHost().toLowerCase(Locale.ROOT));
        }

        @Override
        public boolean isInteractive() {
            return false;
        }

        @Override
        public boolean supports(CredentialItem... items) {
            for (CredentialItem item : items) {
                if (!(item instanceof CredentialItem.Username || item instanceof CredentialItem.Password
                        || item instanceof CredentialItem.YesNoType || item instanceof CredentialItem.InformationalMessage)) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public boolean get(URIish uri, CredentialItem... items) throws UnsupportedCredentialItem {
            boolean credentialsAsked = false;
            for (CredentialItem item : items) {
                if (item instanceof CredentialItem.Username || item instanceof CredentialItem.Password) {
                    credentialsAsked = true;
                }
            }
            if (credentialsAsked && !mayAuthenticate(uri)) {
                if (!user.isEmpty()) {
                    debug.accept("git credentials withheld from " + (uri == null ? "?" : uri.getScheme() + "://" + uri.getHost())
                            + " (only over https to " + (hosts.isEmpty() ? "no host" : String.join(", ", hosts)) + ")");
                }
                return false;
            }
            boolean firstQuestion = true;
            for (CredentialItem item : items) {
                if (item instanceof CredentialItem.Username u) {
                    u.setValue(user);
                } else if (item instanceof CredentialItem.Password p) {
                    p.setValue(password.toCharArray());
                } else if (item instanceof CredentialItem.YesNoType yesNo) {
                    // JGit asks: skip for this operation, for this repository, always; the later two write git config
                    yesNo.setValue(firstQuestion && options.insecureSkipTls());
                    firstQuestion = false;
                }
            }
            return true;
        }
    }

    @Override
    public String description() {
        String shown = url.replaceFirst("://[^/@]*@", "://");
        return shown + (ref == null ? "" : "#" + ref) + (commit == null ? "" : "#" + commit) + (subdir == null ? "" : ":" + subdir);
    }
}
