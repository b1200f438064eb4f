package dev.kiln.builder.gateway;

import dev.kiln.oci.image.ImageReference;
import java.util.List;
import java.util.Map;

/**
 * What a client asked the gateway to build: the same choices as {@code kiln build}'s flags.
 *
 * @param context      a context URL (git, https, s3…), or null when the context was uploaded with the request
 * @param dockerfile   path of the Dockerfile inside the context
 * @param cache        the layer cache switch; recorded now, honoured once the layer cache exists
 * @param platform     target platform such as {@code linux/arm64}, null for the gateway's own
 */
public record BuildSpec(
        String context,
        String dockerfile,
        Map<String, String> buildArgs,
        String target,
        Map<String, String> labels,
        List<String> destinations,
        boolean cache,
        String platform) {

    public static final String DEFAULT_DOCKERFILE = "Dockerfile";
    /** Remote spellings only: a local path, {@code dir://}, {@code tar://} or {@code git+file://} would read the gateway's own files. */
    private static final List<String> URL_SCHEMES = List.of("git://", "git+https://", "git+http://", "git+ssh://",
            "https://", "http://", "s3://");

    public BuildSpec {
        dockerfile = dockerfile == null || dockerfile.isBlank() ? DEFAULT_DOCKERFILE : dockerfile;
        buildArgs = buildArgs == null ? Map.of() : Map.copyOf(buildArgs);
        labels = labels == null ? Map.of() : Map.copyOf(labels);
        destinations = destinations == null ? List.of() : List.copyOf(destinations);
        target = target == null || target.isBlank() ? null : target;
        platform = platform == null || platform.isBlank() ? null : platform;
        context = context == null || context.isBlank() ? null : context;
    }

    /**
     * The Dockerfile's path inside the context, cleaned; refuses paths that leave the context.
     *
     * @throws BuildRequestException when the path is absolute or climbs out with {@code ..}
     */
    public String dockerfileInContext() {
        String path = dockerfile.replace('\\', '/');
        if (path.startsWith("/")) {
            throw BuildRequestException.invalidSpec("dockerfile must be a path inside the context, not " + dockerfile);
        }
        String clean = java.nio.file.Path.of(path).normalize().toString();
        if (clean.isEmpty() || clean.equals("..") || clean.startsWith("../")) {
            throw BuildRequestException.invalidSpec("dockerfile must be a path inside the context, not " + dockerfile);
        }
        return clean;
    }

    /** Checks what can be checked before the build starts; the Dockerfile itself is checked against the context. */
    public BuildSpec validated() {
        dockerfileInContext();
        if (context != null && URL_SCHEMES.stream().noneMatch(context::startsWith)) {
            throw BuildRequestException.invalidSpec("context must be a git://, git+https://, git+ssh://, http(s):// or s3:// URL (or upload the context as a tar.gz), not "
                    + context);
        }
        for (String destination : destinations) {
            try {
                ImageReference.parse(destination);
            } catch (RuntimeException e) {
                throw BuildRequestException.invalidSpec("invalid destination " + destination + ": " + e.getMessage());
            }
        }
        for (String key : buildArgs.keySet()) {
            if (key.isEmpty() || key.contains("=")) {
                throw BuildRequestException.invalidSpec("invalid build argument name '" + key + "'");
            }
        }
        if (platform != null && !platform.matches("[a-z0-9_]+/[a-z0-9_]+(/[a-z0-9_]+)?")) {
            throw BuildRequestException.invalidSpec("platform must look like os/arch[/variant], not " + platform);
        }
        return this;
    }

    public BuildSpec withContext(String newContext) {
        return new BuildSpec(newContext, dockerfile, buildArgs, target, labels, destinations, cache, platform);
    }
}
