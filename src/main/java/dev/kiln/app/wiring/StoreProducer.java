package dev.kiln.app.wiring;

import dev.kiln.app.config.KilnConfig;
import dev.kiln.app.config.S3StoreConfig;
import dev.kiln.app.http.AccessControl;
import dev.kiln.app.http.UploadSlots;
import dev.kiln.registry.server.Authenticator;
import dev.kiln.registry.server.Htpasswd;
import dev.kiln.registry.server.NamespacePolicy;
import dev.kiln.registry.server.RegistryService;
import dev.kiln.store.Store;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;

@ApplicationScoped
public class StoreProducer {

    @Produces
    @Singleton
    Store store(KilnConfig config, S3StoreConfig s3) {
        try {
            return StoreOpener.open(config.store(), s3, false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the store at " + config.store(), e);
        }
    }

    @Produces
    @Singleton
    RegistryService registry(Store store, KilnConfig config) {
        return new RegistryService(store, new NamespacePolicy(config.localNamespaces()));
    }

    @Produces
    @Singleton
    AccessControl accessControl(KilnConfig config) {
        Optional<Htpasswd> htpasswd = config.htpasswd().filter(s -> !s.isBlank()).map(file -> {
            try {
                return Htpasswd.load(Path.of(file));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the htpasswd file " + file + ": " + e.getMessage(), e);
            }
        });
        KilnConfig.Auth auth = config.auth();
        Authenticator authenticator = htpasswd.map(h -> new Authenticator(h, auth.cacheTtl(), auth.maxFailures(), auth.failureWindow()))
                .orElse(null);
        return new AccessControl(authenticator, config.anonymousPull(), Set.copyOf(auth.admins().orElse(List.of())), auth.bcryptThreads());
    }

    @Produces
    @Singleton
    UploadSlots uploadSlots(KilnConfig config) {
        return new UploadSlots(config.limits().maxOpenUploads(), config.limits().maxOpenUploadsPerClient());
    }
}
