package dev.kiln.app.cli;

import dev.kiln.app.config.S3StoreConfig;
import dev.kiln.app.wiring.StoreOpener;
import dev.kiln.store.Store;
import io.smallrye.config.SmallRyeConfig;
import java.io.IOException;
import org.eclipse.microprofile.config.ConfigProvider;
import picocli.CommandLine.Option;

/** The {@code --store} option shared by the commands that open the store without the server. */
public class StoreOption {
    @Option(names = "--store", description = "Store directory or s3://BUCKET[/PREFIX] (default: $KILN_STORE or ./cache-store; "
            + "an object store's endpoint and region are kiln.store.s3.*, KILN_STORE_S3_*)")
    String store;

    String location() {
        if (store != null) {
            return store;
        }
        String env = System.getenv("KILN_STORE");
        return env != null && !env.isBlank() ? env : System.getProperty("kiln.store", "./cache-store");
    }

    /** The existing store: {@code fsck} or {@code gc} on a mistyped path must not create an empty store and report it clean. */
    Store open() throws IOException {
        String location = location();
        // the kiln.store.s3.* mapping is only looked up for a bucket: a directory needs none of it
        S3StoreConfig s3 = location.startsWith("s3://") ? s3Config() : null;
        return StoreOpener.open(location, s3, true);
    }

    /**
     * Outside Quarkus (the command line starts without it) the running config knows no mappings:
     * this one is built from the same sources (system properties, env, application.properties).
     */
    private static S3StoreConfig s3Config() {
        SmallRyeConfig running = ConfigProvider.getConfig().unwrap(SmallRyeConfig.class);
        try {
            return running.getConfigMapping(S3StoreConfig.class);
        } catch (java.util.NoSuchElementException notRegistered) {
            return new io.smallrye.config.SmallRyeConfigBuilder().addDefaultSources().addDiscoveredConverters()
                    .withMapping(S3StoreConfig.class).build().getConfigMapping(S3StoreConfig.class);
        }
    }
}
