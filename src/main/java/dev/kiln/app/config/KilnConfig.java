package dev.kiln.app.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** Kiln's settings: each is a {@code kiln.*} key, a {@code KILN_*} variable and a {@code serve} option. */
@ConfigMapping(prefix = "kiln")
public interface KilnConfig {
    @WithDefault("5000")
    int port();

    @WithDefault("./cache-store")
    String store();

    @WithName("local-namespace")
    @WithDefault("cache,builds,local")
    List<String> localNamespaces();

    Optional<String> htpasswd();

    @WithDefault("true")
    boolean anonymousPull();

    Uploads uploads();

    Gc gc();

    interface Uploads {
        /** Resumable sessions idle for longer than this are removed. */
        @WithDefault("24h")
        Duration ttl();
    }

    interface Gc {
        /** How often online garbage collection runs; {@code off} disables it. */
        @WithDefault("24h")
        String interval();

        /** Unreferenced blobs younger than this survive: their manifest may still be on its way. */
        @WithDefault("1h")
        Duration grace();
    }
}
