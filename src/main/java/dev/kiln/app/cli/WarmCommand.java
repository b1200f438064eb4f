package dev.kiln.app.cli;

import dev.kiln.build.exec.BuildException;
import dev.kiln.build.exec.BuildOptions;
import dev.kiln.build.exec.Executor;
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
@Command(name = "warm", mixinStandardHelpOptions = true,
        description = "Pull base images into --cache-dir ahead of builds (kaniko's warmer).")
public class WarmCommand implements Callable<Integer> {
    @Mixin
    PullFlags pull = new PullFlags();

    @Option(names = {"-i", "--image"}, description = "Image to pull (repeatable)")
    List<String> images = new ArrayList<>();

    @Option(names = {"-f", "--dockerfile"}, description = "Pull the images this Dockerfile's stages start from or copy from")
    Path dockerfile;

    @Option(names = "--build-arg", description = "KEY=VALUE for ARGs used in FROM lines (repeatable)")
    List<String> buildArgs = new ArrayList<>();

    @Option(names = "--target", description = "Only the stages this target needs")
    String target;

    @Option(names = {"-c", "--cache-dir"}, required = true, description = "Where to keep the images (the builds' --cache-dir)")
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
        try {
            Map<String, String> args = KeyValueFlags.buildArgs(buildArgs, System.getenv());
            LinkedHashSet<String> wanted = new LinkedHashSet<>(images);
            if (dockerfile != null) {
                wanted.addAll(Executor.imagesUsedBy(Files.readString(dockerfile), dockerfile.getFileName().toString(), args,
                        target, pull.platform));
            }
            if (wanted.isEmpty()) {
                err.println("error: give --image or a --dockerfile that uses images");
                return 1;
            }
            BuildOptions options = new BuildOptions(Path.of("Dockerfile"), Path.of("."), List.of(), args, target, Map.of(),
                    true, null, null, null, null, false, "gzip", -1, pull.platform, pull.registryMirrors, pull.registryMaps,
                    pull.skipDefaultRegistryFallback, pull.insecureRegistries, 0, pull.imageDownloadRetry, cacheDir, "auto", "auto");
            for (String warmed : new Executor(options, err).insecure(pull.insecurePull, false).warm(List.copyOf(wanted))) {
                out.println(warmed);
            }
            return 0;
        } catch (BuildException e) {
            err.println(e.getMessage().startsWith("error: ") ? e.getMessage() : "error: " + e.getMessage());
            return 1;
        } catch (IOException e) {
            err.println("error: cannot read " + dockerfile + ": " + e.getMessage());
            return 1;
        }
    }
}
