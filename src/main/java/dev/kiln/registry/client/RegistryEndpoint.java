package dev.kiln.registry.client;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * How to reach one registry: its base URL, credentials and TLS trust. {@code name} is what Kiln calls
 * it (e.g. {@code docker.io}); the URL is where it really is (e.g. {@code https://registry-1.docker.io}).
 */
public record RegistryEndpoint(
        String name,
        URI url,
        Optional<Credentials> credentials,
        Optional<Path> caFile,
        boolean skipTlsVerify,
        Duration connectTimeout,
        Duration readTimeout) {

    public RegistryEndpoint {
        String text = url.toString();
        if (text.endsWith("/")) {
            url = URI.create(text.substring(0, text.length() - 1));
        }
        if (!"http".equals(url.getScheme()) && !"https".equals(url.getScheme())) {
            throw new IllegalArgumentException("registry URL must be http:// or https://: " + text);
        }
    }

    public static RegistryEndpoint of(String name, String url) {
        return new RegistryEndpoint(name, URI.create(url), Optional.empty(), Optional.empty(), false,
                Duration.ofSeconds(10), Duration.ofSeconds(60));
    }

    public RegistryEndpoint withCredentials(Credentials credentials) {
        return new RegistryEndpoint(name, url, Optional.ofNullable(credentials), caFile, skipTlsVerify, connectTimeout, readTimeout);
    }

    /** TLS trusting only {@code caFile} when present, or no certificate checks at all with {@code skipVerify}. */
    public RegistryEndpoint withTls(Optional<Path> caFile, boolean skipVerify) {
        return new RegistryEndpoint(name, url, credentials, caFile, skipVerify, connectTimeout, readTimeout);
    }

    public RegistryEndpoint withTimeouts(Duration connect, Duration read) {
        return new RegistryEndpoint(name, url, credentials, caFile, skipTlsVerify, connect, read);
    }
}
