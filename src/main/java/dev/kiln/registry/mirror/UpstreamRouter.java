package dev.kiln.registry.mirror;

import dev.kiln.oci.InvalidNameException;
import dev.kiln.oci.RepositoryName;
import dev.kiln.registry.client.RegistryClient;
import dev.kiln.registry.server.NamespacePolicy;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Decides by configuration alone whether a name is local or mirrored, and from which upstream:
 * containerd's {@code ?ns=<host>} first, then the local namespaces, then an upstream-name prefix
 * ({@code quay.io/…}), then the default upstream with Docker Hub's {@code library/} rule.
 */
public final class UpstreamRouter {
    public static final String DOCKER_HUB = "docker.io";

    private final Map<String, RegistryClient> upstreams;
    private final String defaultUpstream;
    private final NamespacePolicy namespaces;

    public UpstreamRouter(Map<String, RegistryClient> upstreams, String defaultUpstream, NamespacePolicy namespaces) {
        this.upstreams = new LinkedHashMap<>(upstreams);
        this.defaultUpstream = defaultUpstream;
        this.namespaces = namespaces;
        for (String name : upstreams.keySet()) {
            if (!name.matches("[a-z0-9]+(?:[.-][a-z0-9]+)*")) {
                throw new IllegalArgumentException("upstream name " + name + " must be a host-like name such as quay.io");
            }
            if (namespaces.localNamespaces().contains(name)) {
                throw new IllegalArgumentException("upstream name " + name + " is also a local namespace");
            }
        }
        if (defaultUpstream != null && !upstreams.containsKey(defaultUpstream)) {
            throw new IllegalArgumentException("the default upstream " + defaultUpstream + " is not configured");
        }
    }

    public Map<String, RegistryClient> upstreams() {
        return upstreams;
    }

    /** Empty for local repositories; throws NAME_UNKNOWN for a name no upstream serves. */
    public Optional<MirrorRoute> route(RepositoryName name, String ns) {
        if (ns != null && !ns.isBlank()) {
            String host = canonicalHost(ns);
            RegistryClient upstream = upstreams.get(host);
            if (upstream == null) {
                throw new RegistryException(ErrorCode.NAME_UNKNOWN, "no upstream is configured for ?ns=" + ns
                        + "; add --upstream " + host + "=https://" + host, Map.of("ns", ns));
            }
            return Optional.of(route(upstream, name.value()));
        }
        if (namespaces.isLocal(name)) {
            return Optional.empty();
        }
        String first = name.firstComponent();
        RegistryClient prefixed = upstreams.get(canonicalHost(first));
        if (prefixed != null && name.value().length() > first.length()) {
            return Optional.of(route(prefixed, name.value().substring(first.length() + 1)));
        }
        if (defaultUpstream == null) {
            throw new RegistryException(ErrorCode.NAME_UNKNOWN, name + " is neither in a local namespace "
                    + namespaces.localNamespaces() + " nor under a configured upstream " + upstreams.keySet(), Map.of("name", name.value()));
        }
        return Optional.of(route(upstreams.get(defaultUpstream), name.value()));
    }

    /**
     * The route for an image named on a registry this gateway mirrors ({@code docker.io},
     * {@code quay.io}…), as a builder running inside the gateway names its base images; empty when
     * no upstream of that name is configured.
     */
    public Optional<MirrorRoute> routeForRegistry(String registry, String remoteName) {
        RegistryClient upstream = upstreams.get(canonicalHost(registry));
        return upstream == null ? Optional.empty() : Optional.of(route(upstream, remoteName));
    }

    private static MirrorRoute route(RegistryClient upstream, String remote) {
        String upstreamName = upstream.endpoint().name();
        if (upstreamName.equals(DOCKER_HUB) && !remote.contains("/")) {
            remote = "library/" + remote; // Docker Hub's official images live under library/
        }
        try {
            return new MirrorRoute(upstream, remote, new RepositoryName(upstreamName + "/" + remote));
        } catch (InvalidNameException e) {
            throw new RegistryException(ErrorCode.NAME_INVALID, e.getMessage());
        }
    }

    static String canonicalHost(String host) {
        return switch (host) {
            case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com" -> DOCKER_HUB;
            default -> host;
        };
    }
}
