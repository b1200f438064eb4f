package dev.kiln.builder.exec;

import dev.kiln.builder.context.ContextSource;
import dev.kiln.builder.context.Downloads;
import dev.kiln.builder.sandbox.MountResolver;
import java.net.URI;
import java.util.Map;

/**
 * Where a build's inputs come from, beyond {@link BuildOptions}: the context ({@code null}: the
 * local path in {@link BuildOptions#context()}), kaniko's {@code --context-sub-path} (or null), a
 * Dockerfile to download instead of {@link BuildOptions#dockerfile()} (or null), how downloads may
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
