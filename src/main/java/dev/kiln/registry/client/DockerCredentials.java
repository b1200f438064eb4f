package dev.kiln.registry.client;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.cloud.AwsCredentialChain;
import dev.kiln.cloud.EcrTokens;
import dev.kiln.cloud.GcpTokens;
import dev.kiln.cloud.RegistryLogin;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The builder's credentials, found as the docker CLI finds them in {@code $DOCKER_CONFIG/config.json}
 * (default {@code ~/.docker}): a {@code credHelpers} entry for the host, else the {@code credsStore}, else
 * {@code auths}. A helper is the program {@code docker-credential-<name>} run as {@code get} with the
 * server on stdin; Docker Hub is asked for as {@code https://index.docker.io/v1/}. For Amazon ECR and
 * Google (GCR, Artifact Registry) hosts that config.json does not cover, or whose helper is not
 * installed, a login is obtained natively ({@link EcrTokens}, {@link GcpTokens}).
 */
public final class DockerCredentials implements Registries.CredentialSource {
    public static final String DOCKER_HUB_SERVER = "https://index.docker.io/v1/";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path configJson;
    private final List<Path> helperPath;
    private final EcrTokens ecr;
    private final GcpTokens gcp;

    /** @param helperPath directories searched for {@code docker-credential-*} programs */
    public DockerCredentials(Path configJson, List<Path> helperPath) {
        this(configJson, helperPath, new EcrTokens(System.getenv(), AwsCredentialChain.shared()), new GcpTokens(System.getenv()));
    }

    public DockerCredentials(Path configJson, List<Path> helperPath, EcrTokens ecr, GcpTokens gcp) {
        this.configJson = configJson;
        this.helperPath = List.copyOf(helperPath);
        this.ecr = ecr;
        this.gcp = gcp;
    }

    /** From {@code DOCKER_CONFIG} (or {@code ~/.docker}) and {@code PATH}. */
    public static DockerCredentials fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    public static DockerCredentials fromEnvironment(Map<String, String> env) {
        String dir = env.get("DOCKER_CONFIG");
        Path config = dir != null && !dir.isEmpty() ? Path.of(dir, "config.json")
                : Path.of(System.getProperty("user.home"), ".docker", "config.json");
        List<Path> path = new ArrayList<>();
        for (String entry : env.getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!entry.isEmpty()) {
                path.add(Path.of(entry));
            }
        }
        return new DockerCredentials(config, path, new EcrTokens(env, AwsCredentialChain.shared()), new GcpTokens(env));
    }

    @Override
    public Optional<Credentials> lookup(String host) throws IOException {
        Optional<Credentials> configured = fromConfig(host);
        return configured.isPresent() ? configured : cloudLogin(host);
    }

    /** ECR and Google registries: a login from the cloud's own token service. */
    private Optional<Credentials> cloudLogin(String host) throws IOException {
        Optional<EcrTokens.Registry> registry = EcrTokens.registry(host);
        Optional<RegistryLogin> login = registry.isPresent() ? Optional.of(ecr.login(registry.get()))
                : GcpTokens.isGoogleRegistry(host) ? gcp.login() : Optional.empty();
        return login.map(l -> new Credentials(l.username(), l.password()));
    }

    private static boolean cloudRegistry(String host) {
        return EcrTokens.registry(host).isPresent() || GcpTokens.isGoogleRegistry(host);
    }

    private Optional<Credentials> fromConfig(String host) throws IOException {
        if (!Files.isRegularFile(configJson)) {
            return Optional.empty();
        }
        JsonNode root = JSON.readTree(configJson.toFile());
        String wanted = Credentials.normaliseHost(host);
        String helper = null;
        for (Iterator<Map.Entry<String, JsonNode>> it = root.path("credHelpers").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            if (Credentials.normaliseHost(entry.getKey()).equals(wanted)) {
                helper = entry.getValue().asText();
            }
        }
        if (helper == null && root.hasNonNull("credsStore")) {
            helper = root.get("credsStore").asText();
        }
        if (helper != null && !helper.isEmpty() && !(cloudRegistry(host) && helperMissing(helper))) {
            Optional<Credentials> found = fromHelper(helper, wanted.equals("docker.io") ? DOCKER_HUB_SERVER : host);
            if (found.isPresent()) {
                return found;
            }
        }
        return Credentials.fromDockerConfig(configJson, host);
    }

    /** kaniko's images ship ecr-login and gcr helpers; Kiln's does not need them, so a config naming them still works. */
    private boolean helperMissing(String helper) {
        return helperPath.stream().noneMatch(dir -> Files.isExecutable(dir.resolve("docker-credential-" + helper)));
    }

    private Optional<Credentials> fromHelper(String helper, String server) throws IOException {
        String program = "docker-credential-" + helper;
        Path executable = helperPath.stream().map(dir -> dir.resolve(program)).filter(Files::isExecutable).findFirst()
                .orElseThrow(() -> new IOException("credential helper " + program + " (configured in " + configJson
                        + ") is not on the PATH"));
        Process process = new ProcessBuilder(executable.toString(), "get").redirectError(ProcessBuilder.Redirect.PIPE).start();
        try (OutputStream stdin = process.getOutputStream()) {
            stdin.write(server.getBytes(StandardCharsets.UTF_8));
        }
        byte[] out = process.getInputStream().readNBytes(1 << 20);
        String err = new String(process.getErrorStream().readNBytes(4096), StandardCharsets.UTF_8);
        int exit;
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IOException(program + " get timed out");
            }
            exit = process.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        String text = new String(out, StandardCharsets.UTF_8).trim();
        if (exit != 0) {
            if (text.contains("credentials not found") || err.contains("credentials not found")) {
                return Optional.empty();
            }
            throw new IOException(program + " get failed (exit " + exit + "): " + (text + " " + err).trim());
        }
        JsonNode json = JSON.readTree(text);
        String username = json.path("Username").asText("");
        String secret = json.path("Secret").asText("");
        if (secret.isEmpty() || username.equals("<token>")) {
            return Optional.empty();
        }
        return Optional.of(new Credentials(username, secret));
    }
}
