package dev.kiln.app.cli;

import dev.kiln.builder.cache.CachePolicy;
import dev.kiln.builder.cache.LayerCache;
import dev.kiln.builder.cache.OciLayoutLayerCache;
import dev.kiln.builder.cache.RegistryLayerCache;
import dev.kiln.builder.dockerfile.GoDuration;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.BuildLog;
import dev.kiln.oci.RepositoryName;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.BlobCache;
import dev.kiln.registry.client.DockerCredentials;
import dev.kiln.registry.client.Registries;
import dev.kiln.registry.client.RegistrySecurity;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Option;

/** kaniko's layer cache flags of {@code kiln build}: whether, where and for what the cache is used. */
class LayerCacheFlags {
    @Option(names = "--cache", arity = "0..1", fallbackValue = "true", description = "Use the layer cache: steps found in --cache-repo are not run, the others' layers are stored there")
    boolean cache;

    @Option(names = "--cache-repo", description = "Repository holding the layer cache (default: <first destination>/cache), or oci:DIR for an OCI image layout")
    String cacheRepo;

    @Option(names = "--cache-ttl", defaultValue = "336h", description = "How long a cached layer is used, Go duration (default ${DEFAULT-VALUE})")
    String cacheTtl;

    @Option(names = "--cache-copy-layers", arity = "0..1", defaultValue = "true", fallbackValue = "true",
            description = "Cache the layers of COPY and ADD (default ${DEFAULT-VALUE})")
    boolean cacheCopyLayers;

    @Option(names = "--cache-run-layers", arity = "0..1", defaultValue = "true", fallbackValue = "true",
            description = "Cache the layers of RUN (default ${DEFAULT-VALUE})")
    boolean cacheRunLayers;

    @Option(names = "--no-push-cache", arity = "0..1", fallbackValue = "true", description = "With --cache: read the layer cache, store nothing in it")
    boolean noPushCache;

    CachePolicy policy() {
        return new CachePolicy(cacheRunLayers, cacheCopyLayers);
    }

    /** What a build stores its layers in and reads them from: read-only with {@code --no-push-cache}. */
    LayerCache forBuild(LayerCache opened) {
        return noPushCache ? LayerCache.readOnly(opened) : opened;
    }

    /** The cache repository is written to, so it is reached as the destinations are (the push flags). */
    LayerCache open(RegistrySecurity security, DockerCredentials credentials, Path cacheDir, List<String> destinations,
                    BuildLog log) throws BuildException {
        Duration ttl;
        try {
            ttl = GoDuration.parse(cacheTtl);
        } catch (RuntimeException e) {
            throw new BuildException("invalid --cache-ttl " + cacheTtl + " (a Go duration such as 336h or 30m)");
        }
        if (cacheRepo != null && cacheRepo.startsWith("oci:")) {
            Path layout = Path.of(cacheRepo.substring("oci:".length()));
            if (layout.toString().isEmpty()) {
                throw new BuildException("--cache-repo oci: needs a directory, e.g. oci:/cache/layers");
            }
            try {
                return new OciLayoutLayerCache(layout.toAbsolutePath(), ttl, Clock.systemUTC(), log::warn);
            } catch (java.io.IOException e) {
                throw new BuildException("--cache-repo " + cacheRepo + ": cannot use " + layout + " as an OCI layout: " + e.getMessage());
            }
        }
        ImageReference repo;
        if (cacheRepo != null && !cacheRepo.isBlank()) {
            repo = ImageReference.parse(cacheRepo);
        } else if (!destinations.isEmpty()) {
            ImageReference first = ImageReference.parse(destinations.get(0));
            repo = first.withRepository(new RepositoryName(first.repository().value() + "/cache"));
        } else {
            throw new BuildException("--cache needs --cache-repo (or a --destination to put the cache next to)");
        }
        Path blobs = (cacheDir != null ? cacheDir : Path.of(System.getProperty("java.io.tmpdir"), "kiln-cache")).resolve("blobs");
        return new RegistryLayerCache(repo, new Registries(security, credentials), new BlobCache(blobs),
                ttl, Clock.systemUTC(), log::warn);
    }
}
