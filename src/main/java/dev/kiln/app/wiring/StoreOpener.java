package dev.kiln.app.wiring;

import dev.kiln.app.config.ByteSizes;
import dev.kiln.app.config.S3StoreConfig;
import dev.kiln.store.Store;
import dev.kiln.store.s3.S3Settings;
import dev.kiln.store.s3.S3Store;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;

/** {@code --store}: a directory, or {@code s3://BUCKET[/PREFIX]} with the {@code kiln.store.s3.*} settings. */
public final class StoreOpener {
    private StoreOpener() {
    }

    /** @param mustExist for commands that only check or clean a store: a mistyped directory is not made anew */
    public static Store open(String store, S3StoreConfig s3, boolean mustExist) throws IOException {
        if (S3Settings.isS3(store)) {
            S3Settings settings = S3Settings.parse(store, s3.endpoint().filter(e -> !e.isBlank()).map(URI::create), s3.region(),
                    s3.pathStyle(), s3.redirect(), Path.of(s3.localDir()), ByteSizes.parse(s3.cacheSize()));
            return S3Store.open(settings, DefaultCredentialsProvider.builder().build());
        }
        return mustExist ? Store.openExisting(Path.of(store)) : Store.openFilesystem(Path.of(store));
    }
}
