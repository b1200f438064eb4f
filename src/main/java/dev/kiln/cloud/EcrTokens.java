package dev.kiln.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Amazon ECR logins without {@code docker-credential-ecr-login}: ECR's {@code GetAuthorizationToken},
 * signed with the {@link AwsCredentialChain}'s credentials, answers a user ({@code AWS}) and password
 * valid for 12 hours; each is kept until shortly before it expires. The API endpoint is ECR's for the
 * registry's region, or {@code AWS_ENDPOINT_URL_ECR} / {@code AWS_ENDPOINT_URL} (VPC endpoints, tests).
 */
public final class EcrTokens {
    /** {@code ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn]}. */
    private static final Pattern HOST = Pattern.compile("(\\d{12})\\.dkr\\.ecr(-fips)?\\.([a-z0-9-]+)\\.(amazonaws\\.com(?:\\.cn)?)");
    private static final String TARGET = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";

    /** A private ECR registry, as its host name spells it. */
    public record Registry(String account, String region, boolean fips, String domain) {
        URI defaultEndpoint() {
            return URI.create("https://" + (fips ? "ecr-fips." : "api.ecr.") + region + "." + domain + "/");
        }
    }

    private final Map<String, String> env;
    private final AwsCredentialChain chain;
    /** Per process: builds come and go, a login lasts 12 hours. Keyed by registry, endpoint and access key. */
    private static final Map<String, RegistryLogin> CACHE = new ConcurrentHashMap<>();

    public EcrTokens(Map<String, String> env, AwsCredentialChain chain) {
        this.env = Map.copyOf(env);
        this.chain = chain;
    }

    public static Optional<Registry> registry(String host) {
        Matcher m = HOST.matcher(host);
        return m.matches() ? Optional.of(new Registry(m.group(1), m.group(3), m.group(2) != null, m.group(4))) : Optional.empty();
    }

    public RegistryLogin login(Registry registry) throws IOException {
        AwsCredentialChain.Found found = chain.resolve(env);
        SigV4.Credentials credentials = found.credentials().orElseThrow(() -> new IOException(
                "no AWS credentials for ECR registry " + registry.account() + " in " + registry.region() + ": " + found.whyNone()));
        URI endpoint = endpoint(registry);
        String key = registry + " " + endpoint + " " + credentials.accessKeyId();
        RegistryLogin cached = CACHE.get(key);
        if (cached != null && cached.freshAt(Instant.now())) {
            return cached;
        }
        RegistryLogin fresh = fetch(registry, credentials, endpoint);
        CACHE.put(key, fresh);
        return fresh;
    }

    private RegistryLogin fetch(Registry registry, SigV4.Credentials credentials, URI endpoint) throws IOException {
        byte[] body = ("{\"registryIds\":[\"" + registry.account() + "\"]}").getBytes(StandardCharsets.UTF_8);
        Map<String, String> headers = new HashMap<>(Map.of("content-type", "application/x-amz-json-1.1", "x-amz-target", TARGET,
                "x-amz-content-sha256", SigV4.sha256Hex(body)));
        Map<String, String> signed = SigV4.sign("POST", endpoint, headers, Instant.now(), registry.region(), "ecr", credentials);
        JsonNode answer = CloudHttp.call("ECR GetAuthorizationToken", "POST", endpoint, signed, body, Duration.ofSeconds(30));
        JsonNode data = answer.path("authorizationData").path(0);
        String token = data.path("authorizationToken").asText("");
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(token), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            decoded = "";
        }
        int colon = decoded.indexOf(':');
        if (colon <= 0) {
            throw new IOException("ECR GetAuthorizationToken at " + CloudHttp.shown(endpoint) + " answered no usable authorizationToken");
        }
        // expiresAt is epoch seconds, possibly with a fraction
        Instant expires = data.hasNonNull("expiresAt")
                ? Instant.ofEpochMilli((long) (data.get("expiresAt").asDouble() * 1000)) : Instant.now().plus(Duration.ofHours(12));
        return new RegistryLogin(decoded.substring(0, colon), decoded.substring(colon + 1), expires);
    }

    private URI endpoint(Registry registry) {
        String override = env.getOrDefault("AWS_ENDPOINT_URL_ECR", env.getOrDefault("AWS_ENDPOINT_URL", ""));
        if (override.isEmpty()) {
            return registry.defaultEndpoint();
        }
        return URI.create(override.endsWith("/") ? override : override + "/");
    }
}
