package dev.kiln.app.http;

import dev.kiln.store.Store;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready while the store's directory is writable; reports the free space so a filling disk shows early. */
@Readiness
@ApplicationScoped
public class StoreHealth implements HealthCheck {
    @Inject
    Store store;

    @Override
    public HealthCheckResponse call() {
        try {
            FileStore fileStore = Files.getFileStore(store.root());
            return HealthCheckResponse.named("store")
                    .status(Files.isWritable(store.root()))
                    .withData("path", store.root().toString())
                    .withData("usableBytes", fileStore.getUsableSpace())
                    .build();
        } catch (IOException e) {
            return HealthCheckResponse.named("store").down().withData("error", e.toString()).build();
        }
    }
}
