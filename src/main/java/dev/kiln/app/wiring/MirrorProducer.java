package dev.kiln.app.wiring;

import dev.kiln.app.config.ByteSizes;
import dev.kiln.app.config.KilnConfig;
import dev.kiln.registry.client.Credentials;
import dev.kiln.registry.client.RegistryClient;
import dev.kiln.registry.client.RegistryEndpoint;
import dev.kiln.registry.mirror.CacheBudget;
import dev.kiln.registry.mirror.MirrorService;
import dev.kiln.registry.mirror.MirrorStats;
import dev.kiln.registry.mirror.UpstreamRouter;
import dev.kiln.registry.server.RegistryService;
import dev.kiln.store.ReadLeases;
import dev.kiln.store.Store;
import io.vertx.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

@ApplicationScoped
public class MirrorProducer {
    static final String DOCKER_HUB_URL = "https://registry-1.docker.io";

    @Produces
    @Singleton
    UpstreamRouter router(KilnConfig config, RegistryService registry) {
        Map<String, RegistryClient> clients = new LinkedHashMap<>();
        clients.put(UpstreamRouter.DOCKER_HUB, new RegistryClient(RegistryEndpoint.of(UpstreamRouter.DOCKER_HUB, DOCKER_HUB_URL)));
        config.mirror().upstreams().forEach((name, upstream) -> clients.put(unquote(name), new RegistryClient(endpoint(unquote(name), upstream))));
        return new UpstreamRouter(clients, config.mirror().defaultUpstream(), registry.namespaces());
    }

    private static String unquote(String key) {
        return key.startsWith("\"") && key.endsWith("\"") ? key.substring(1, key.length() - 1) : key;
    }

    static RegistryEndpoint endpoint(String name, KilnConfig.Upstream upstream) {
        Optional<Credentials> credentials = upstream.username().map(user -> new Credentials(user, upstream.password().orElse("")));
        if (credentials.isEmpty() && upstream.dockerConfig().isPresent()) {
            try {
                credentials = Credentials.fromDockerConfig(Path.of(upstream.dockerConfig().get()), URI.create(upstream.url()).getHost()
                        + (URI.create(upstream.url()).getPort() > 0 ? ":" + URI.create(upstream.url()).getPort() : ""));
                if (credentials.isEmpty()) {
                    credentials = Credentials.fromDockerConfig(Path.of(upstream.dockerConfig().get()), name);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + upstream.dockerConfig().get() + " for upstream " + name, e);
            }
        }
        return new RegistryEndpoint(name, URI.create(upstream.url()), credentials, upstream.caFile().map(Path::of),
                upstream.skipTlsVerify(), upstream.connectTimeout(), upstream.readTimeout());
    }

    @Produces
    @Singleton
    ReadLeases readLeases() {
        return new ReadLeases();
    }

    @Produces
    @Singleton
    MirrorStats stats() {
        return new MirrorStats();
    }

    @Produces
    @Singleton
    @Fetchers
    ExecutorService fetchers() {
        AtomicInteger count = new AtomicInteger();
        return Executors.newCachedThreadPool(r -> {
            Thread thread = new Thread(r, "kiln-fetch-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
    }

    void shutdown(@Disposes @Fetchers ExecutorService fetchers) {
        fetchers.shutdownNow();
    }

    @Produces
    @Singleton
    VertxBlobDownloads downloads(Vertx vertx) {
        return new VertxBlobDownloads(vertx);
    }

    void close(@Disposes VertxBlobDownloads downloads) {
        downloads.close();
    }

    @Produces
    @Singleton
    MirrorService mirror(Store store, KilnConfig config, MirrorStats stats, @Fetchers ExecutorService fetchers, CacheBudget budget,
            VertxBlobDownloads downloads) {
        MirrorService mirror = new MirrorService(store, stats, dev.kiln.app.http.RequestIds.propagating(fetchers), downloads,
                config.mirror().metadataCacheEntries(), config.mirror().tagTtl(), Clock.systemUTC());
        mirror.afterFetch(budget::enforceSoon);
        return mirror;
    }

    @Produces
    @Singleton
    CacheBudget budget(Store store, KilnConfig config, RegistryService registry, ReadLeases leases, MirrorStats stats) {
        return new CacheBudget(store, registry.namespaces(), leases, ByteSizes.parse(config.mirror().cacheMaxBytes()), stats, Clock.systemUTC());
    }
}
