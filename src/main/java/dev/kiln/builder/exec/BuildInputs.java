package dev.kiln.builder.exec;

import dev.kiln.builder.context.ContextSource;
import dev.kiln.builder.context.Downloads;
import dev.kiln.builder.sandbox.MountResolver;
import java.net.URI;
import java.util.Map;

/**
 * Where a build's inputs come from, beyond its local paths: the context ({@code null}: the build
 * request's local context directory), kaniko's {@code --context-sub-path} (or null), a Dockerfile
 * to download instead of the request's Dockerfile path (or null), how downloads may
 * travel, and the {@code --secret}s that {@code RUN --mount=type=secret} can mount.
 */
public record BuildInputs(
        ContextSource context,
        String contextSubPath,
        URI dockerfileUrl,
        Downloads downloads,
        Map<String, MountResolver.SecretSource> secrets) {

    public static final BuildInputs LOCAL = new BuildInputs(null, null, null, Downloads.of(false, false), Map.of());

    public BuildInputs {
        secrets = Map.copyOf(secrets);
    }
}
