package dev.kiln.registry.mirror;

import dev.kiln.oci.RepositoryName;
import dev.kiln.registry.client.RegistryClient;

/**
 * A name that Kiln serves from an upstream: which upstream, the repository's name there, and the
 * name its cached metadata is kept under ({@code <upstream>/<remote name>}), so that
 * {@code busybox}, {@code library/busybox} and {@code docker.io/library/busybox} share one cache.
 */
public record MirrorRoute(RegistryClient upstream, String remoteName, RepositoryName cacheName) {
    public String upstreamName() {
        return upstream.endpoint().name();
    }
}
