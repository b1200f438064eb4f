package dev.kiln.registry.client;

import dev.kiln.oci.RepositoryName;
import dev.kiln.oci.image.ImageReference;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where to pull an image from, with kaniko's semantics: {@code --registry-mirror m} is
 * {@code --registry-map index.docker.io=m}; each mirror is {@code host[:port][/prefix]}; mirrors are tried
 * in the order given, then the original registry unless {@code --skip-default-registry-fallback}.
 */
public final class MirrorRoutes {
    private final Map<String, List<String>> mirrors;
    private final boolean skipDefaultFallback;

    private MirrorRoutes(Map<String, List<String>> mirrors, boolean skipDefaultFallback) {
        this.mirrors = mirrors;
        this.skipDefaultFallback = skipDefaultFallback;
    }

    public static MirrorRoutes none() {
        return new MirrorRoutes(Map.of(), false);
    }

    /**
     * @param registryMirrors      {@code --registry-mirror} values (for Docker Hub)
     * @param registryMaps         {@code --registry-map} values, {@code original=mirror[;mirror…]}
     * @param skipDefaultFallback  fail instead of trying the original registry when every mirror failed
     */
    public static MirrorRoutes of(List<String> registryMirrors, List<String> registryMaps, boolean skipDefaultFallback) {
        Map<String, List<String>> map = new LinkedHashMap<>();
        for (String mirror : registryMirrors) {
            add(map, ImageReference.DOCKER_HUB, mirror);
        }
        for (String entry : registryMaps) {
            int eq = entry.indexOf('=');
            if (eq <= 0 || eq == entry.length() - 1) {
                throw new IllegalArgumentException("--registry-map must be original=mirror, got '" + entry + "'");
            }
            String original = normalise(entry.substring(0, eq));
            for (String mirror : entry.substring(eq + 1).split(";")) {
                add(map, original, mirror);
            }
        }
        return new MirrorRoutes(map, skipDefaultFallback);
    }

    private static void add(Map<String, List<String>> map, String registry, String mirror) {
        String m = mirror.replaceFirst("^https?://", "").replaceAll("/+$", "");
        if (m.isEmpty()) {
            throw new IllegalArgumentException("empty registry mirror for " + registry);
        }
        map.computeIfAbsent(registry, k -> new ArrayList<>()).add(m);
    }

    private static String normalise(String registry) {
        String r = registry.replaceFirst("^https?://", "").replaceAll("/.*$", "");
        return r.equals("index.docker.io") || r.equals("registry-1.docker.io") ? ImageReference.DOCKER_HUB : r;
    }

    /** The references to try, in order; a mirror prefix is put in front of the repository name. */
    public List<ImageReference> candidates(ImageReference reference) {
        List<ImageReference> result = new ArrayList<>();
        for (String mirror : mirrors.getOrDefault(reference.registry(), List.of())) {
            int slash = mirror.indexOf('/');
            String host = slash < 0 ? mirror : mirror.substring(0, slash);
            RepositoryName repository = slash < 0 ? reference.repository()
                    : new RepositoryName(mirror.substring(slash + 1) + "/" + reference.repository().value());
            result.add(reference.withRegistry(host).withRepository(repository));
        }
        if (result.isEmpty() || !skipDefaultFallback) {
            result.add(reference);
        }
        return result;
    }
}
