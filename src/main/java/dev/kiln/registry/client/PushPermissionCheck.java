package dev.kiln.registry.client;

import dev.kiln.oci.image.ImageReference;
import java.io.IOException;
import java.net.URI;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * kaniko's push permission check, run before any build step so that a wrong destination costs
 * seconds, not the whole build: every destination parses, its registry answers, and it accepts the
 * start of an upload (POST), which is cancelled again (DELETE). Only the start of an upload proves
 * push permission: a registry may answer HEAD and GET to anyone.
 */
public final class PushPermissionCheck {
    private final Registries registries;

    public PushPermissionCheck(Registries registries) {
        this.registries = registries;
    }

    /** Why the first refused destination cannot be pushed to, in one line; empty when all of them can. */
    public Optional<String> firstRefusal(List<String> destinations) {
        Set<String> checked = new LinkedHashSet<>();
        for (String destination : destinations) {
            ImageReference ref;
            try {
                ref = ImageReference.parse(destination);
            } catch (IllegalArgumentException e) {
                return Optional.of("--destination " + destination + " is not an image reference: " + e.getMessage());
            }
            String repository = ref.repository().value();
            if (checked.add(ref.registry() + "/" + repository)) {
                Optional<String> refusal = refusal(ref.registry(), repository);
                if (refusal.isPresent()) {
                    return Optional.of("cannot push to " + destination + ": " + refusal.get());
                }
            }
        }
        return Optional.empty();
    }

    private Optional<String> refusal(String registry, String repository) {
        try {
            RegistryClient client = registries.client(registry);
            List<String> scopes = List.of(RegistryClient.scope(repository, "pull,push"));
            URI uploads = URI.create(client.endpoint().url() + "/v2/" + repository + "/blobs/uploads/");
            String location;
            try (UpstreamResponse start = client.send("POST", uploads, scopes, Map.of(), RegistryClient.RequestBody.of(new byte[0]))) {
                if (start.status() != 202) {
                    return Optional.of(client.failure(start, "starting an upload to " + repository).getMessage());
                }
                location = start.header("Location");
            }
            if (location != null) {
                // The session only holds a few bytes of bookkeeping; a registry that cannot cancel it expires it.
                try (UpstreamResponse cancel = client.send("DELETE", uploads.resolve(location), scopes, Map.of(), null)) {
                    cancel.status();
                }
            }
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            String reason = e.getMessage();
            String said = reason == null || reason.isBlank() ? NetworkFailures.reason(e) : reason;
            return Optional.of(TlsTrust.untrustedCertificate(e)
                    ? said + "; pass --registry-certificate " + registry + "=CA.pem, or --skip-tls-verify" : said);
        }
    }
}
