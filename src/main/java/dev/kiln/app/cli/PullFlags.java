package dev.kiln.app.cli;

import dev.kiln.builder.exec.BuildException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * kaniko's flags for where base images come from, shared by {@code kiln build} and {@code kiln warm}.
 * Booleans take kaniko's (pflag's) {@code --flag=false} form too.
 */
class PullFlags {
    @Option(names = {"--custom-platform", "--customPlatform"}, description = "Platform to build and pull, e.g. linux/arm64 (default: the host's)")
    String platform;

    @Option(names = "--registry-mirror", description = "Registry mirror for docker.io (repeatable; also KANIKO_REGISTRY_MIRROR)")
    List<String> registryMirrors = new ArrayList<>();

    @Option(names = "--registry-map", description = "ORIGINAL=MIRROR[;MIRROR] registry mapping (repeatable; also KANIKO_REGISTRY_MAP)")
    List<String> registryMaps = new ArrayList<>();

    @Option(names = "--skip-default-registry-fallback", arity = "0..1", fallbackValue = "true",
            description = "Do not fall back to the original registry when mirrors fail")
    boolean skipDefaultRegistryFallback;

    @Option(names = "--insecure-pull", arity = "0..1", fallbackValue = "true", description = "Pull base images over plain HTTP")
    boolean insecurePull;

    @Option(names = "--insecure-registry", description = "Registry to use over plain HTTP (repeatable)")
    List<String> insecureRegistries = new ArrayList<>();

    @Option(names = "--image-download-retry", defaultValue = "0", description = "Retries for a failed base image download (default ${DEFAULT-VALUE})")
    int imageDownloadRetry;

    @Option(names = "--skip-tls-verify-pull", arity = "0..1", fallbackValue = "true", description = "Pull base images without checking TLS certificates")
    boolean skipTlsVerifyPull;

    @Option(names = "--skip-tls-verify-registry", description = "Registry whose TLS certificate is not checked, for pulls and pushes (repeatable)")
    List<String> skipTlsVerifyRegistries = new ArrayList<>();

    @Option(names = "--registry-certificate", description = "HOST=CA.pem: trust this CA (PEM) for that registry (repeatable)")
    List<String> registryCertificates = new ArrayList<>();

    @Option(names = "--registry-client-cert", description = "HOST=CERT.pem,KEY.pem: kaniko's mutual TLS; accepted, Kiln presents no client certificate (repeatable)")
    List<String> registryClientCerts = new ArrayList<>();

    /** {@code --registry-certificate HOST=CA.pem}, each file checked now rather than at the first pull. */
    Map<String, Path> certificates() throws BuildException {
        Map<String, Path> out = new LinkedHashMap<>();
        for (String pair : registryCertificates) {
            int eq = pair.indexOf('=');
            if (eq <= 0 || eq == pair.length() - 1) {
                throw new BuildException("--registry-certificate " + pair + ": expected HOST=CA.pem");
            }
            Path file = Path.of(pair.substring(eq + 1)).toAbsolutePath();
            if (!Files.isReadable(file)) {
                throw new BuildException("--registry-certificate " + pair + ": " + file + " is not readable");
            }
            out.put(pair.substring(0, eq), file);
        }
        return out;
    }

    /** kaniko reads these two from the environment as well; the flags add to them. */
    void addFromEnvironment(Map<String, String> env) {
        String mirror = env.get("KANIKO_REGISTRY_MIRROR");
        if (mirror != null && !mirror.isBlank() && !registryMirrors.contains(mirror)) {
            registryMirrors.add(mirror);
        }
        String map = env.get("KANIKO_REGISTRY_MAP");
        if (map != null && !map.isBlank() && !registryMaps.contains(map)) {
            registryMaps.add(map);
        }
    }
}
