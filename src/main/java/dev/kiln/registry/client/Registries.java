package dev.kiln.registry.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One {@link RegistryClient} per registry host, so tokens are shared by every pull and push to it.
 * {@link RegistrySecurity} says which hosts are spoken to over plain HTTP, which without certificate
 * checks and which trusting their own CA; {@code docker.io} is reached at {@code registry-1.docker.io}.
 */
public final class Registries {
    /** Finds the credentials for a registry host, e.g. {@link DockerCredentials#lookup}. */
    public interface CredentialSource {
        Optional<Credentials> lookup(String host) throws IOException;
    }

    private final RegistrySecurity security;
    private final CredentialSource credentials;
    private final Duration connectTimeout;
    private final Duration readTimeout;
    private final Map<String, RegistryClient> clients = new ConcurrentHashMap<>();

    public Registries(RegistrySecurity security, CredentialSource credentials, Duration connectTimeout, Duration readTimeout) {
        this.security = security;
        this.credentials = credentials;
        this.connectTimeout = connectTimeout;
        this.readTimeout = readTimeout;
    }

    public Registries(RegistrySecurity security, CredentialSource credentials) {
        this(security, credentials, Duration.ofSeconds(10), Duration.ofSeconds(60));
    }

    /** Hosts in {@code insecure} over plain HTTP (kaniko's {@code --insecure-registry}), the rest over verified TLS. */
    public Registries(Set<String> insecure, CredentialSource credentials, Duration connectTimeout, Duration readTimeout) {
        this(RegistrySecurity.plainHttp(insecure), credentials, connectTimeout, readTimeout);
    }

    public Registries(Set<String> insecure, CredentialSource credentials) {
        this(RegistrySecurity.plainHttp(insecure), credentials);
    }

    public RegistryClient client(String host) {
        return clients.computeIfAbsent(host, h -> {
            String url = h.equals("docker.io") ? "https://registry-1.docker.io" : (security.plainHttp(h) ? "http://" : "https://") + h;
            RegistryEndpoint endpoint = RegistryEndpoint.of(h, url).withTimeouts(connectTimeout, readTimeout)
                    .withTls(security.caFile(h), security.skipVerify(h));
            try {
                Optional<Credentials> found = credentials.lookup(h);
                return new RegistryClient(found.map(endpoint::withCredentials).orElse(endpoint));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read credentials for " + h + ": " + e.getMessage(), e);
            }
        });
    }
}
