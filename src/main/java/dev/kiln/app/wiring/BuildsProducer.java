package dev.kiln.app.wiring;

import dev.kiln.app.config.ByteSizes;
import dev.kiln.app.config.KilnConfig;
import dev.kiln.build.gateway.BuildFiles;
import dev.kiln.build.gateway.BuildService;
import dev.kiln.build.gateway.ExecutorBuildRunner;
import dev.kiln.registry.mirror.MirrorService;
import dev.kiln.registry.mirror.UpstreamRouter;
import dev.kiln.registry.server.RegistryService;
import dev.kiln.store.Store;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import org.jboss.logging.Logger;

@ApplicationScoped
public class BuildsProducer {
    private static final Logger LOG = Logger.getLogger(BuildsProducer.class);

    /** At start-up, so builds a dead process left running are marked failed before anyone asks. */
    @Produces
    @Singleton
    @Startup
    BuildService builds(Store store, KilnConfig config, RegistryService registry, MirrorService mirror,
                        UpstreamRouter upstreams) {
        KilnConfig.Builds builds = config.builds();
        Path cacheDir = builds.cacheDir().map(Path::of).orElse(store.root().resolve("build-cache"));
        ExecutorBuildRunner runner = new ExecutorBuildRunner(new ExecutorBuildRunner.Settings(builds.ownMirror(),
                builds.insecureRegistries().orElse(List.of()), cacheDir, builds.sandbox(), builds.cacheRepo().orElse(null)),
                registry, mirror, upstreams);
        try {
            return new BuildService(new BuildFiles(store.root()), runner, builds.maxConcurrent(),
                    ByteSizes.parse(builds.maxContextBytes()), Clock.systemUTC(), LOG::warn);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the builds under " + store.root().resolve("builds") + ": " + e.getMessage(), e);
        }
    }

    void close(@Disposes BuildService builds) {
        builds.close();
    }
}
