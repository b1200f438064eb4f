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
     * @param registryMaps         {@code --registry-map} values, kaniko's {@code original=mirror[;original=mirror…]}, or {@code original=mirror[;mirror…]}
     * @param skipDefaultFallback  fail instead of trying the original registry when every mirror failed
     */
    public static MirrorRoutes of(List<String> registryMirrors, List<String> registryMaps, boolean skipDefaultFallback) {
        Map<String, List<String>> map = new LinkedHashMap<>();
        for (String mirror : registryMirrors) {
            add(map, ImageReference.DOCKER_HUB, mirror);
        }
        for (String entry : registryMaps) {
            // kaniko's form is a=b;c=d (pairs separated by ';'); a part without '=' is one more mirror
            // for the registry before it, so a=m1;m2 keeps working too
            String original = null;
            for (String part : entry.split(";")) {
                if (part.isEmpty()) {
                    continue;
                }
                int eq = part.indexOf('=');
                if (eq == 0 || eq == part.length() - 1 || (eq < 0 && original == null)) {
                    throw new IllegalArgumentException("--registry-map must be original=mirror[;original=mirror], got '" + entry + "'");
                }
                if (eq > 0) {
                    original = normalise(part.substring(0, eq));
                }
                add(map, original, eq > 0 ? part.substring(eq + 1) : part);
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
