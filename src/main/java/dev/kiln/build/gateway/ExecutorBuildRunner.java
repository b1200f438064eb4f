package dev.kiln.build.gateway;

import dev.kiln.build.exec.BuildException;
import dev.kiln.build.exec.BuildOptions;
import dev.kiln.build.exec.Executor;
import dev.kiln.build.context.ContextException;
import dev.kiln.build.context.ContextSource;
import dev.kiln.build.context.ContextSources;
import dev.kiln.build.context.Downloads;
import dev.kiln.build.context.GitOptions;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.Credentials;
import dev.kiln.registry.client.DockerCredentials;
import dev.kiln.registry.client.Registries;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Runs gateway builds in-process with the builder {@code kiln build} uses. The gateway's own
 * {@code host:port} names are plain HTTP and take the submitter's credentials, so a build pushes
 * into the gateway as the user who asked for it; with {@code ownMirror}, Docker Hub base images
 * are pulled through the gateway's mirror (and so land in its store).
 */
public final class ExecutorBuildRunner implements BuildRunner {

    /**
     * @param insecureRegistries  further registries spoken to over plain HTTP
     * @param cacheDir            where pulled base image blobs are kept between builds
     * @param sandbox             RUN isolation: auto, namespaces, proot or in-place
     */
    public record Settings(boolean ownMirror, List<String> insecureRegistries, Path cacheDir, String sandbox) {
        public Settings {
            insecureRegistries = List.copyOf(insecureRegistries);
        }
    }

    private final Settings settings;

    public ExecutorBuildRunner(Settings settings) {
        this.settings = settings;
    }

    @Override
    public Outcome run(Job job) throws BuildException {
        BuildSpec spec = job.spec();
        Path context;
        Path dockerfile;
        try {
            context = source(job).materialize(Files.createDirectories(job.workDir().resolve("context")));
            dockerfile = insideContext(context, spec.dockerfileInContext());
            insideContext(context, ".dockerignore");
        } catch (IOException e) {
            throw new BuildException("build context " + (spec.context() == null ? "upload" : spec.context()) + ": "
                    + e.getMessage(), e);
        }
        if (!Files.isRegularFile(dockerfile)) {
            throw new BuildException("the build context has no " + spec.dockerfileInContext());
        }
        List<String> gatewayHosts = job.caller() == null ? List.of() : job.caller().gatewayHosts();
        Set<String> insecure = new LinkedHashSet<>(settings.insecureRegistries());
        insecure.addAll(gatewayHosts);
        List<String> mirrors = settings.ownMirror() && !gatewayHosts.isEmpty() ? List.of(gatewayHosts.get(0)) : List.of();
        BuildOptions options = new BuildOptions(dockerfile, context, spec.destinations(), spec.buildArgs(), spec.target(),
                spec.labels(), false, null, null, null, null, false, "gzip", -1, spec.platform(), mirrors, List.of(),
                false, new ArrayList<>(insecure), 0, 0, settings.cacheDir(), settings.sandbox(), "auto");
        Executor.Result result = new Executor(options, job.log())
                .cancellation(job.cancellation())
                .steps(job.steps())
                .credentials(credentials(job.caller()))
                .build();
        List<String> pushed = new ArrayList<>();
        for (String destination : spec.destinations()) {
            pushed.add(ImageReference.parse(destination).context() + "@" + result.digest());
        }
        return new Outcome(result.digest().toString(), pushed);
    }

    /**
     * The uploaded archive, or the URL the client named. Only remote spellings reach here
     * ({@link BuildSpec#validated}): a client must never make the gateway read its own files.
     */
    private static ContextSource source(Job job) throws ContextException {
        Consumer<String> warnings = w -> job.log().println("warning: " + w);
        if (job.archive() != null) {
            return ContextSources.local(job.archive(), warnings);
        }
        String url = job.spec().context();
        Downloads downloads = Downloads.of(url.startsWith("http://"), false);
        return ContextSources.parse(url, new ContextSources.Settings(downloads, GitOptions.DEFAULT, System.getenv(),
                InputStream.nullInputStream(), warnings, debug -> { }));
    }

    /**
     * {@code relative} resolved in the context, refused when a symlink leads outside it: the
     * gateway must never read its own files on a client's behalf. Absent files pass.
     */
    private static Path insideContext(Path context, String relative) throws IOException, BuildException {
        Path path = context.resolve(relative);
        if (!Files.exists(path)) {
            return path;
        }
        if (!path.toRealPath().startsWith(context.toRealPath())) {
            throw new BuildException(relative + " leads outside the build context");
        }
        return path;
    }

    private static Registries.CredentialSource credentials(Caller caller) {
        DockerCredentials configured = DockerCredentials.fromEnvironment();
        if (caller == null || caller.credentials() == null) {
            return configured;
        }
        Credentials own = caller.credentials();
        return host -> caller.gatewayHosts().contains(host) ? Optional.of(own) : configured.lookup(host);
    }
}
