package dev.kiln.app.cli;

import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.BuildLog;
import dev.kiln.registry.client.RegistrySecurity;
import dev.kiln.builder.dockerfile.DockerfileException;
import dev.kiln.builder.engine.BuildRequest;
import dev.kiln.builder.engine.Builder;
import dev.kiln.builder.plan.BuildPlan;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code kiln warm}: kaniko's warmer; fills --cache-dir with base images so builds need the registry only for tags. */
@Command(name = "warm", mixinStandardHelpOptions = true, versionProvider = KilnVersion.class,
        description = "Pull base images into --cache-dir ahead of builds (kaniko's warmer).")
public class WarmCommand implements Callable<Integer> {
    @Mixin
    PullFlags pull = new PullFlags();

    @Option(names = {"-i", "--image"}, description = "Image to pull (repeatable)")
    List<String> images = new ArrayList<>();

    @Option(names = {"-d", "--dockerfile"}, description = "Pull the images this Dockerfile's stages start from or copy from")
    Path dockerfile;

    @Option(names = {"-f", "--force"}, arity = "0..1", fallbackValue = "true",
            description = "kaniko's: overwrite what is cached; Kiln verifies every cached blob by digest and always asks for the tag's digest")
    boolean force;

    @Option(names = "--cache-ttl", description = "kaniko's: how long a warmed image is used; accepted, see docs/kaniko.md")
    String cacheTtl;

    @Mixin
    LogFlags logging = new LogFlags();

    @Option(names = "--build-arg", description = "KEY=VALUE for ARGs used in FROM lines (repeatable)")
    List<String> buildArgs = new ArrayList<>();

    @Option(names = "--target", description = "Only the stages this target needs")
    String target;

    @Option(names = {"-c", "--cache-dir"}, defaultValue = "/cache", description = "Where to keep the images (the builds' --cache-dir; default ${DEFAULT-VALUE}, as kaniko's)")
    Path cacheDir;

    private final PrintStream out;
    private final PrintStream err;

    public WarmCommand() {
        this(System.out, System.err);
    }

    public WarmCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() {
        BuildLog log;
        try {
            log = logging.open(err);
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
        if (force) {
            log.warn("--force: Kiln keeps blobs by digest and verifies each, so nothing cached is ever stale to overwrite; the tag's digest is asked for every time");
        }
        if (cacheTtl != null) {
            log.warn("--cache-ttl: the warmer's blobs are content-addressed and never expire; builds take --cache-ttl for the layer cache");
        }
        if (!pull.registryClientCerts.isEmpty()) {
            log.warn("--registry-client-cert: Kiln presents no client certificate (mutual TLS) to registries; a registry that demands one refuses the pull");
        }
        try {
            pull.addFromEnvironment(System.getenv());
            Map<String, String> args = KeyValueFlags.buildArgs(buildArgs, System.getenv());
            LinkedHashSet<String> wanted = new LinkedHashSet<>(images);
            if (dockerfile != null) {
                wanted.addAll(BuildPlan.of(Files.readString(dockerfile), dockerfile.getFileName().toString(), args,
                        target, pull.platform).images());
            }
            if (wanted.isEmpty()) {
                log.log(BuildLog.Level.FATAL, "give --image or a --dockerfile that uses images");
                return 1;
            }
            BuildRequest request = BuildRequest.builder()
                    .progress(logging.progress(log, err))
                    .platform(pull.platform)
                    .registryMirrors(pull.registryMirrors)
                    .registryMaps(pull.registryMaps)
                    .skipDefaultRegistryFallback(pull.skipDefaultRegistryFallback)
                    .insecureRegistries(pull.insecureRegistries)
                    .retries(0, pull.imageDownloadRetry)
                    .cacheDir(cacheDir)
                    .registrySecurity(pullSecurity(), pullSecurity())
                    .build();
            for (String warmed : new Builder(log.listener(out)).warm(request, List.copyOf(wanted))) {
                out.println(warmed);
            }
            return 0;
        } catch (DockerfileException e) {
            log.log(BuildLog.Level.FATAL, e.getMessage());
            return 1;
        } catch (BuildException e) {
            log.log(BuildLog.Level.FATAL, e.getMessage().startsWith("error: ") ? e.getMessage().substring(7) : e.getMessage());
            return 1;
        } catch (IOException e) {
            log.log(BuildLog.Level.FATAL, "cannot read " + dockerfile + ": " + e.getMessage());
            return 1;
        }
    }

    /** kaniko's warmer reads the same TLS flags as the executor's pulls. */
    private RegistrySecurity pullSecurity() throws BuildException {
        Map<String, Path> certificates = pull.certificates();
        return new RegistrySecurity(pull.insecurePull, java.util.Set.copyOf(pull.insecureRegistries), pull.skipTlsVerifyPull,
                java.util.Set.copyOf(pull.skipTlsVerifyRegistries), certificates);
    }
}
