package dev.kiln.builder.engine;

import dev.kiln.builder.context.ContextException;
import dev.kiln.builder.context.ContextSource;
import dev.kiln.builder.context.ContextSources;
import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.BuildInputs;
import dev.kiln.builder.exec.Elapsed;
import dev.kiln.builder.exec.InPlaceOptions;
import dev.kiln.builder.output.Outputs;
import dev.kiln.builder.rootfs.IgnoredPaths;
import dev.kiln.builder.rootfs.InPlaceRoot;
import dev.kiln.builder.sandbox.MountResolver;
import dev.kiln.builder.exec.BuildLog;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The files a build starts from, in its own temp dir: the context (a local directory is used
 * where it is), the Dockerfile (downloaded when it is a URL) and its {@code .dockerignore}; and,
 * in place, the root the build takes over with everything it must leave alone.
 */
final class Workspace {
    private final BuildRequest request;
    private final Path buildDir;
    private final Consumer<BuildEvent> events;
    private Path context;
    private Path dockerfile;

    Workspace(BuildRequest request, Path buildDir, Consumer<BuildEvent> events) {
        this.request = request;
        this.buildDir = buildDir;
        this.events = events;
    }

    /** Materializes the context and finds the Dockerfile. */
    void prepare() throws IOException, BuildException {
        context = materializeContext();
        BuildInputs inputs = request.inputs();
        Path path = request.dockerfile();
        if (inputs.dockerfileUrl() != null) {
            path = downloadDockerfile(inputs.dockerfileUrl());
        } else if (!path.isAbsolute() && !Files.exists(path)) {
            path = context.resolve(path);
        }
        if (!Files.isRegularFile(path)) {
            throw new BuildException("cannot read Dockerfile " + request.dockerfile() + ": no file at "
                    + path.toAbsolutePath().normalize() + " (--dockerfile is relative to the context "
                    + context + " unless it exists as given)");
        }
        dockerfile = path;
    }

    Path context() {
        return context;
    }

    Path dockerfile() {
        return dockerfile;
    }

    /** {@code <Dockerfile>.dockerignore} next to the Dockerfile, else the context's {@code .dockerignore}. */
    DockerIgnore ignore() throws IOException {
        Path specific = dockerfile.resolveSibling(dockerfile.getFileName() + ".dockerignore");
        Path general = context.resolve(".dockerignore");
        Path chosen = Files.isRegularFile(specific) ? specific : Files.isRegularFile(general) ? general : null;
        return chosen == null ? DockerIgnore.of(List.of()) : DockerIgnore.parse(Files.readString(chosen));
    }

    private Path materializeContext() throws IOException, BuildException {
        long t0 = System.nanoTime();
        BuildInputs inputs = request.inputs();
        ContextSource source = inputs.context() != null ? inputs.context()
                : ContextSources.local(request.context(), w -> events.accept(BuildEvent.Message.warn(w)));
        try {
            Path dir = source.materialize(Files.createDirectory(buildDir.resolve("context-source")));
            events.accept(new BuildEvent.Message(dir.startsWith(buildDir) ? BuildLog.Level.INFO : BuildLog.Level.DEBUG,
                    "build context " + source.description() + " (" + Elapsed.since(t0) + ")"));
            return ContextSources.subPath(dir, inputs.contextSubPath());
        } catch (ContextException e) {
            throw new BuildException(e.getMessage(), e);
        }
    }

    private Path downloadDockerfile(URI url) throws IOException, BuildException {
        String name = url.getPath() == null ? "" : url.getPath().substring(url.getPath().lastIndexOf('/') + 1);
        Path file = Files.createDirectory(buildDir.resolve("dockerfile")).resolve(name.isEmpty() ? "Dockerfile" : name);
        try {
            long bytes = request.inputs().downloads().download(url, file, "Dockerfile");
            events.accept(BuildEvent.Message.debug("downloaded Dockerfile " + url + ": " + bytes + " bytes"));
        } catch (ContextException e) {
            throw new BuildException(e.getMessage(), e);
        }
        return file;
    }

    /**
     * In place: {@code /}, keeping out Kiln's home, the kernel's filesystems, {@code /var/run},
     * every mount point, {@code --ignore-path}s, and the files this build reads and writes.
     */
    InPlaceRoot inPlaceRoot(Path cacheRoot) throws IOException, BuildException {
        InPlaceOptions options = request.inPlace();
        List<String> paths = new ArrayList<>(List.of("/proc", "/sys", "/dev"));
        if (options.ignoreVarRun()) {
            paths.add("/var/run");
        }
        Path mountinfo = Path.of("/proc/self/mountinfo");
        if (Files.isReadable(mountinfo)) {
            paths.addAll(IgnoredPaths.mountPoints(Files.readString(mountinfo)));
        }
        paths.addAll(options.ignorePaths());
        // java.home too: a Kiln that is not self-contained (a JDK in the image) must at least keep its runtime
        List<Path> used = new ArrayList<>(List.of(options.kilnHome(), Path.of(System.getProperty("java.home")),
                buildDir, cacheRoot, context, dockerfile));
        Outputs outputs = request.outputs();
        for (Path output : new Path[] {outputs.tarPath(), outputs.ociLayoutPath(), outputs.digestFile(),
                outputs.imageNameWithDigestFile()}) {
            if (output != null) {
                used.add(output);
            }
        }
        for (MountResolver.SecretSource secret : request.inputs().secrets().values()) {
            if (secret.file() != null) {
                used.add(secret.file());
            }
        }
        for (Path p : used) {
            Path absolute = p.toAbsolutePath().normalize();
            paths.add((Files.exists(absolute) ? absolute.toRealPath() : absolute).toString());
        }
        try {
            return new InPlaceRoot(Path.of("/"), IgnoredPaths.of(paths));
        } catch (IllegalArgumentException e) {
            throw new BuildException("--sandbox in-place: " + e.getMessage()
                    + "; the context, outputs and --ignore-path must be below /, not / itself");
        }
    }
}
