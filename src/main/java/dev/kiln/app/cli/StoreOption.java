package dev.kiln.app.cli;

import dev.kiln.app.config.S3StoreConfig;
import dev.kiln.app.wiring.StoreOpener;
import dev.kiln.store.Store;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.PropertiesConfigSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
     * this one is built from the same sources (system properties, env, application.properties) and
     * the files of {@code quarkus.config.locations}, which a pod's {@code kiln fsck} must read as its
     * gateway does (the local dir on a read-only root is only writable where they say).
     */
    static S3StoreConfig s3Config() throws IOException {
        SmallRyeConfig running = ConfigProvider.getConfig().unwrap(SmallRyeConfig.class);
        try {
            return running.getConfigMapping(S3StoreConfig.class);
        } catch (java.util.NoSuchElementException notRegistered) {
            return s3Config(System.getProperty("quarkus.config.locations", System.getenv("QUARKUS_CONFIG_LOCATIONS")));
        }
    }

    /** The mapping from the default sources and the comma-separated {@code locations} (null: none); missing files are skipped. */
    static S3StoreConfig s3Config(String locations) throws IOException {
        io.smallrye.config.SmallRyeConfigBuilder builder = new io.smallrye.config.SmallRyeConfigBuilder().addDefaultSources()
                .addDiscoveredConverters().withMapping(S3StoreConfig.class);
        List<String> files = locations == null ? List.of() : List.of(locations.split(","));
        for (int i = 0; i < files.size(); i++) {
            Path file = Path.of(files.get(i).strip().replaceFirst("^file:", ""));
            if (Files.isRegularFile(file)) {
                // as in Quarkus: above application.properties, below env; the first listed wins
                builder.withSources(new PropertiesConfigSource(file.toUri().toURL(), 260 - i));
            }
        }
        return builder.build().getConfigMapping(S3StoreConfig.class);
    }
}
