package dev.kiln.app.cli;

import dev.kiln.store.Store;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --store} option shared by the commands that open the store without the server. */
public class StoreOption {
    @Option(names = "--store", description = "Store directory (default: $KILN_STORE or ./cache-store)")
    String store;

    Path path() {
        if (store != null) {
            return Path.of(store);
        }
        String env = System.getenv("KILN_STORE");
        return Path.of(env != null && !env.isBlank() ? env : System.getProperty("kiln.store", "./cache-store"));
    }

    /** The existing store: {@code fsck} or {@code gc} on a mistyped path must not create an empty store and report it clean. */
    Store open() throws IOException {
        return Store.openExisting(path());
    }
}
