package dev.kiln.builder.steps;

import dev.kiln.builder.cache.CacheKey;
import dev.kiln.builder.context.GitSource;
import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.dockerfile.Heredoc;
import dev.kiln.builder.dockerfile.Instruction;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.ContextCopier;
import dev.kiln.builder.rootfs.RootfsPath;
import dev.kiln.oci.layer.LayerPaths;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * COPY and ADD: files from the context, another stage or image ({@code --from}), a URL (ADD) or
 * a here-document into the rootfs, with {@code --chown} and {@code --chmod}; ADD unpacks local
 * archives. The copying itself is {@link ContextCopier}'s.
 */
final class CopyStep implements BuildStep {
    private final String text;
    private final List<String> sources;
    private final List<Heredoc> inline;
    private final String destination;
    private final String from;
    private final String chown;
    private final String chmod;
    private final boolean isAdd;
    private final boolean unpack;
    private final List<String> excludes;
    private final boolean parents;
    private final String checksum;
    private final boolean keepGitDir;

    private CopyStep(String text, List<String> sources, List<Heredoc> inline, String destination, String from,
                     String chown, String chmod, boolean isAdd, boolean unpack, List<String> excludes, boolean parents,
                     String checksum, boolean keepGitDir) {
        this.text = text;
        this.sources = sources;
        this.inline = inline;
        this.destination = destination;
        this.from = from;
        this.chown = chown;
        this.chmod = chmod;
        this.isAdd = isAdd;
        this.unpack = unpack;
        this.excludes = excludes;
        this.parents = parents;
        this.checksum = checksum;
        this.keepGitDir = keepGitDir;
    }

    static CopyStep copy(Instruction.Copy copy, String text) {
        return new CopyStep(text, copy.sources(), copy.inlineSources(), copy.destination(), copy.from(), copy.chown(),
                copy.chmod(), false, false, copy.excludes(), copy.parents(), null, false);
    }

    static CopyStep add(Instruction.Add add, String text) {
        return new CopyStep(text, add.sources(), add.inlineSources(), add.destination(), null, add.chown(), add.chmod(),
                true, add.unpack() == null || add.unpack(), add.excludes(), false,
                add.checksum(), add.keepGitDir());
    }

    @Override
    public Kind kind() {
        return Kind.COPY;
    }

    @Override
    public void apply(StageContext s) throws IOException, BuildException {
        BuildSession session = s.session();
        expandedChecksum(s);
        if (!inline.isEmpty()) {
            copyInline(s);
            if (sources.isEmpty()) {
                return;
            }
        }
        if (!isAdd) {
            Path sourceRoot = from == null ? session.context() : session.stages().rootfs(s.scope().expand(from));
            copyFiles(s, sources, sourceRoot, from == null, session.ignore(), false);
            return;
        }
        List<String> local = new ArrayList<>();
        for (String raw : sources) {
            String src = s.scope().expand(raw);
            if (GitSource.isGit(src)) {
                Path tree = session.gitSources().fetch(src, keepGitDir, expandedChecksum(s));
                copyFiles(s, List.of("."), tree, true, null, false);
            } else if (isUrl(src)) {
                // downloaded, not unpacked, mode 0600 unless --chmod, as Docker does
                Path file = session.downloads().download(src, expandedChecksum(s));
                copyFiles(s, List.of(file.getFileName().toString()), file.getParent(), true, null, false);
            } else if (src.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*")) {
                throw new BuildException("ADD " + src + ": only http(s) URLs and git repositories can be added");
            } else {
                local.add(raw);
            }
        }
        if (!local.isEmpty()) {
            copyFiles(s, local, session.context(), true, session.ignore(), unpack);
        }
    }

    /** The instruction, where it lands, ownership and mode, inline bodies, and the content of what it reads. */
    @Override
    public String cacheKey(StageContext s) throws IOException, BuildException {
        var scope = s.scope();
        BuildSession session = s.session();
        expandedChecksum(s);
        CacheKey key = BuildStep.keyAfter(s, text)
                .part("workdir", s.container().workingDir())
                .part("destination", scope.expand(destination))
                .part("chown", chown == null ? null : scope.expand(chown))
                .part("chmod", chmod == null ? null : scope.expand(chmod));
        for (Heredoc h : inline) {
            key.part("inline " + h.name(), h.fileContent(scope));
        }
        List<String> local = new ArrayList<>();
        for (String raw : sources) {
            String src = scope.expand(raw);
            if (isAdd && GitSource.isGit(src)) {
                Path tree = session.gitSources().fetch(src, keepGitDir, expandedChecksum(s));
                key.part("git " + src + (keepGitDir ? " keep-git-dir" : ""),
                        new ContextCopier(tree, true, null, RootfsPath.of(s.rootfs())).excluding(excludes).digest(List.of(".")));
            } else if (isUrl(src)) {
                key.part("url " + src, session.downloads().digest(src, expandedChecksum(s)));
            } else {
                local.add(src);
            }
        }
        String stage = from == null ? null : scope.expand(from);
        if (stage != null && session.stages().incomplete(stage)) {
            return null;
        }
        Path sourceRoot = stage != null ? session.stages().rootfs(stage) : session.context();
        ContextCopier reader = new ContextCopier(sourceRoot, stage == null, session.ignore(), RootfsPath.of(s.rootfs()))
                .excluding(excludes);
        if (parents) {
            List<String> matched = new ArrayList<>();
            for (String src : local) {
                for (ParentsSources.Match m : new ParentsSources(sourceRoot, stage == null, session.ignore()).resolve(src)) {
                    matched.add(m.source());
                    key.part("parents " + m.source(), m.relative());
                }
            }
            local = matched;
        }
        return key.part("from", stage).part("excludes", String.join("\n", excludes))
                .part("content", reader.digest(local)).value();
    }

    /**
     * {@code ADD --checksum}, expanded, after BuildKit's checks: one source only (checked when the
     * Dockerfile is read), and that an http(s) URL or a git repository.
     */
    private String expandedChecksum(StageContext s) throws BuildException {
        if (checksum == null || checksum.isEmpty()) {
            return null;
        }
        String src = sources.size() == 1 ? s.scope().expand(sources.get(0)) : "";
        if (!isUrl(src) && !GitSource.isGit(src)) {
            throw new BuildException("checksum requires HTTP(S) or Git sources");
        }
        return s.scope().expand(checksum);
    }

    /** Numeric owners need no /etc/passwd; an ADD of local files may unpack an archive over what is there. */
    @Override
    public String independentDestination(StageContext s) {
        var scope = s.scope();
        if (chown != null && !chown.isEmpty() && !scope.expand(chown).matches("[0-9]+(:[0-9]+)?")) {
            return null;
        }
        if (isAdd && unpack && sources.stream().anyMatch(src -> !isUrl(scope.expand(src)))) {
            return null;
        }
        return s.absolute(scope.expand(destination));
    }

    private static boolean isUrl(String src) {
        return src.startsWith("http://") || src.startsWith("https://");
    }

    /** {@code COPY <<EOF /dest}: each body becomes a file named after its delimiter, variables expanded unless quoted. */
    private void copyInline(StageContext s) throws IOException, BuildException {
        Path dir = Files.createTempDirectory(Files.createDirectories(s.session().buildDir().resolve("inline")), "src-");
        List<String> names = new ArrayList<>();
        for (Heredoc h : inline) {
            String body = h.fileContent(s.scope());
            Files.writeString(dir.resolve(h.name()), body);
            Files.setAttribute(dir.resolve(h.name()), "unix:mode", 0644);
            names.add(h.name());
        }
        copyFiles(s, names, dir, true, null, false);
    }

    private void copyFiles(StageContext s, List<String> names, Path sourceRoot, boolean isContext, DockerIgnore ignore,
                           boolean unpackArchives) throws IOException, BuildException {
        var scope = s.scope();
        List<String> expanded = new ArrayList<>();
        for (String src : names) {
            expanded.add(scope.expand(src));
        }
        String rawDest = scope.expand(destination);
        String dest = s.absolute(rawDest);
        if (rawDest.endsWith("/") && !dest.endsWith("/")) {
            dest = dest + "/";
        }
        BuildSession session = s.session();
        if (session.isInPlaceRoot(s.rootfs()) && session.inPlace().ignored().covers(LayerPaths.clean(dest))) {
            throw new BuildException("the destination " + dest + " is kept out of the image in place (ignored: "
                    + session.inPlace().ignored() + ")");
        }
        RootfsPath rootfs = RootfsPath.of(s.rootfs());
        Integer mode = null;
        if (chmod != null && !chmod.isEmpty()) {
            try {
                mode = Integer.parseInt(scope.expand(chmod), 8);
            } catch (NumberFormatException e) {
                throw new BuildException("invalid --chmod " + chmod + " (octal modes only)");
            }
        }
        ContextCopier.Attributes attributes = chown != null && !chown.isEmpty()
                ? ContextCopier.chown(rootfs, scope.expand(chown), mode)
                : new ContextCopier.Attributes(null, null, mode);
        ContextCopier copier = new ContextCopier(sourceRoot, isContext, ignore, rootfs).cancelledBy(session.cancellation())
                .excluding(excludes);
        if (!parents) {
            copier.copy(expanded, dest, attributes, unpackArchives);
            return;
        }
        ParentsSources sources = new ParentsSources(sourceRoot, isContext, ignore);
        for (String src : expanded) {
            for (ParentsSources.Match m : sources.resolve(src)) {
                sources.copy(copier, rootfs, m, dest, attributes, unpackArchives);
            }
        }
    }
}
