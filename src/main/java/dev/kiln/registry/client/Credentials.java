package dev.kiln.registry.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;

public record Credentials(String username, String password) {

    public String basicHeader() {
        return "Basic " + Base64.getEncoder().encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Looks {@code host} up in a docker {@code config.json} {@code auths} map, whose keys may be bare
     * hosts or URLs; Docker Hub's credentials are filed under its historical index URL.
     */
    public static Optional<Credentials> fromDockerConfig(Path configJson, String host) throws IOException {
        if (!Files.isRegularFile(configJson)) {
            return Optional.empty();
        }
        JsonNode auths = new ObjectMapper().readTree(configJson.toFile()).path("auths");
        String wanted = normaliseHost(host);
        for (Iterator<Map.Entry<String, JsonNode>> it = auths.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            if (!normaliseHost(entry.getKey()).equals(wanted)) {
                continue;
            }
            JsonNode node = entry.getValue();
            if (node.hasNonNull("auth")) {
                String decoded = new String(Base64.getDecoder().decode(node.get("auth").asText().trim()), StandardCharsets.UTF_8);
                int colon = decoded.indexOf(':');
                if (colon > 0) {
                    return Optional.of(new Credentials(decoded.substring(0, colon), decoded.substring(colon + 1)));
                }
            }
            if (node.hasNonNull("username") && node.hasNonNull("password")) {
                return Optional.of(new Credentials(node.get("username").asText(), node.get("password").asText()));
            }
        }
        return Optional.empty();
    }

    static String normaliseHost(String key) {
        String host = key.replaceFirst("^https?://", "");
        int slash = host.indexOf('/');
        if (slash >= 0) {
            host = host.substring(0, slash);
        }
        if (host.equals("index.docker.io") || host.equals("registry-1.docker.io") || host.equals("docker.io")) {
            return "docker.io";
        }
        return host;
    }
}
