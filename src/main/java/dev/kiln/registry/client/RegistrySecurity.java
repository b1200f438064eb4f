package dev.kiln.registry.client;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * How the builder speaks to each registry host, from kaniko's flags: plain HTTP
 * ({@code --insecure-registry}, or every host with {@code --insecure}/{@code --insecure-pull}),
 * TLS without certificate checks ({@code --skip-tls-verify-registry}, or every host with
 * {@code --skip-tls-verify}/{@code --skip-tls-verify-pull}), or TLS trusting one CA file
 * ({@code --registry-certificate host=ca.pem}). Anything else is TLS against the system's trust store.
 */
public record RegistrySecurity(
        boolean plainHttpEverywhere,
        Set<String> plainHttpHosts,
        boolean skipVerifyEverywhere,
        Set<String> skipVerifyHosts,
        Map<String, Path> caFiles) {

    public static final RegistrySecurity DEFAULT = new RegistrySecurity(false, Set.of(), false, Set.of(), Map.of());

    public RegistrySecurity {
        plainHttpHosts = Set.copyOf(plainHttpHosts);
        skipVerifyHosts = Set.copyOf(skipVerifyHosts);
        caFiles = Map.copyOf(caFiles);
    }

    public static RegistrySecurity plainHttp(Set<String> hosts) {
        return new RegistrySecurity(false, hosts, false, Set.of(), Map.of());
    }

    public boolean plainHttp(String host) {
        return plainHttpEverywhere || plainHttpHosts.contains(host);
    }

    public boolean skipVerify(String host) {
        return skipVerifyEverywhere || skipVerifyHosts.contains(host);
    }

    public Optional<Path> caFile(String host) {
        return Optional.ofNullable(caFiles.get(host));
    }
}
