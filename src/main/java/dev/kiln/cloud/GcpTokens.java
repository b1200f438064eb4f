package dev.kiln.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Google Container Registry and Artifact Registry logins without {@code docker-credential-gcr}: an
 * OAuth access token, used as the password of the user {@code oauth2accesstoken}. The token comes
 * from {@code GOOGLE_APPLICATION_CREDENTIALS} (a service-account key: a signed JWT exchanged at its
 * {@code token_uri}; an external account (workload identity federation): the subject token from its
 * file or URL exchanged at its {@code token_url}, then impersonation if configured), else from the
 * GCE/GKE metadata server ({@code GCE_METADATA_HOST} overrides its host). A hand client rather than
 * google-auth-library: that library brings Guava and the Google HTTP client (several MB) for three POSTs.
 */
public final class GcpTokens {
    public static final String USER = "oauth2accesstoken";
    static final String SCOPE = "https://www.googleapis.com/auth/cloud-platform";
    private static final String TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

    /** Per process, keyed by where the token came from (credentials file or metadata host). */
    private static final Map<String, RegistryLogin> CACHE = new java.util.concurrent.ConcurrentHashMap<>();

    private final Map<String, String> env;

    public GcpTokens(Map<String, String> env) {
        this.env = Map.copyOf(env);
    }

    /** {@code gcr.io}, its regional hosts and Artifact Registry's {@code LOCATION-docker.pkg.dev}. */
    public static boolean isGoogleRegistry(String host) {
        return host.equals("gcr.io") || host.endsWith(".gcr.io") || host.endsWith("-docker.pkg.dev");
    }

    /** The login, or empty when there is no credentials file and no metadata server (anonymous pulls). */
    public Optional<RegistryLogin> login() throws IOException {
        String file = env.getOrDefault("GOOGLE_APPLICATION_CREDENTIALS", "");
        String key = file.isEmpty() ? "metadata " + env.getOrDefault("GCE_METADATA_HOST", "") : "file " + file;
        RegistryLogin login = CACHE.get(key);
        if (login != null && login.freshAt(Instant.now())) {
            return Optional.of(login);
        }
        Optional<RegistryLogin> fresh = file.isEmpty() ? fromMetadata() : Optional.of(fromFile(Path.of(file)));
        fresh.ifPresent(l -> CACHE.put(key, l));
        return fresh;
    }

    private RegistryLogin fromFile(Path file) throws IOException {
        JsonNode json;
        try {
            json = CloudHttp.JSON.readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new IOException("GOOGLE_APPLICATION_CREDENTIALS=" + file + ": cannot read it as JSON (" + e.getMessage() + ")", e);
        }
        String type = json.path("type").asText("");
        return switch (type) {
            case "service_account" -> serviceAccount(json, file);
            case "external_account" -> externalAccount(json, file);
            default -> throw new IOException("GOOGLE_APPLICATION_CREDENTIALS=" + file + ": type '" + type
                    + "' is not supported (service_account, external_account)");
        };
    }

    private RegistryLogin serviceAccount(JsonNode json, Path file) throws IOException {
        String email = required(json, "client_email", file);
        String tokenUri = required(json, "token_uri", file);
        PrivateKey key = privateKey(required(json, "private_key", file), file);
        long now = Instant.now().getEpochSecond();
        Map<String, Object> header = new LinkedHashMap<>(Map.of("alg", "RS256", "typ", "JWT"));
        if (json.hasNonNull("private_key_id")) {
            header.put("kid", json.get("private_key_id").asText());
        }
        Map<String, Object> claims = new LinkedHashMap<>();
        claims.put("iss", email);
        claims.put("scope", SCOPE);
        claims.put("aud", tokenUri);
        claims.put("iat", now);
        claims.put("exp", now + 3600);
        String unsigned = base64Url(CloudHttp.JSON.writeValueAsBytes(header)) + "." + base64Url(CloudHttp.JSON.writeValueAsBytes(claims));
        String jwt;
        try {
            Signature rsa = Signature.getInstance("SHA256withRSA");
            rsa.initSign(key);
            rsa.update(unsigned.getBytes(StandardCharsets.US_ASCII));
            jwt = unsigned + "." + base64Url(rsa.sign());
        } catch (GeneralSecurityException e) {
            throw new IOException("GOOGLE_APPLICATION_CREDENTIALS=" + file + ": cannot sign with its private_key: " + e.getMessage(), e);
        }
        JsonNode answer = postForm("service account token", URI.create(tokenUri),
                Map.of("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion", jwt), Map.of());
        return accessToken(answer, "access_token", "expires_in");
    }

    private RegistryLogin externalAccount(JsonNode json, Path file) throws IOException {
        JsonNode source = json.path("credential_source");
        String subjectToken;
        if (source.hasNonNull("file")) {
            subjectToken = Files.readString(Path.of(source.get("file").asText()));
        } else if (source.hasNonNull("url")) {
            Map<String, String> headers = new HashMap<>();
            source.path("headers").fields().forEachRemaining(e -> headers.put(e.getKey(), e.getValue().asText()));
            subjectToken = fetchText(URI.create(source.get("url").asText()), headers);
        } else {
            throw new IOException("GOOGLE_APPLICATION_CREDENTIALS=" + file + ": credential_source needs a file or a url"
                    + " (executable and AWS sources are not supported)");
        }
        JsonNode format = source.path("format");
        if ("json".equals(format.path("type").asText(""))) {
            String field = format.path("subject_token_field_name").asText("");
            subjectToken = CloudHttp.JSON.readTree(subjectToken).path(field).asText("");
        }
        if (subjectToken.isBlank()) {
            throw new IOException("GOOGLE_APPLICATION_CREDENTIALS=" + file + ": the credential source gave an empty subject token");
        }
        Map<String, String> form = new LinkedHashMap<>();
        form.put("grant_type", TOKEN_EXCHANGE);
        form.put("audience", required(json, "audience", file));
        form.put("scope", SCOPE);
        form.put("requested_token_type", "urn:ietf:params:oauth:token-type:access_token");
        form.put("subject_token_type", required(json, "subject_token_type", file));
        form.put("subject_token", subjectToken.strip());
        RegistryLogin federated = accessToken(postForm("token exchange", URI.create(required(json, "token_url", file)), form, Map.of()),
                "access_token", "expires_in");
        String impersonation = json.path("service_account_impersonation_url").asText("");
        if (impersonation.isEmpty()) {
            return federated;
        }
        byte[] body = CloudHttp.JSON.writeValueAsBytes(Map.of("scope", new String[] {SCOPE}, "lifetime", "3600s"));
        JsonNode answer = CloudHttp.call("service account impersonation", "POST", URI.create(impersonation),
                Map.of("Authorization", "Bearer " + federated.password(), "Content-Type", "application/json"), body,
                Duration.ofSeconds(30));
        String token = answer.path("accessToken").asText("");
        if (token.isEmpty()) {
            throw new IOException("service account impersonation at " + CloudHttp.shown(URI.create(impersonation)) + " answered no accessToken");
        }
        Instant expires = answer.hasNonNull("expireTime") ? Instant.parse(answer.get("expireTime").asText())
                : Instant.now().plus(Duration.ofHours(1));
        return new RegistryLogin(USER, token, expires);
    }

    /** GCE and GKE (workload identity): the metadata server's default service account; empty off Google Cloud. */
    private Optional<RegistryLogin> fromMetadata() throws IOException {
        String host = env.getOrDefault("GCE_METADATA_HOST", "");
        boolean explicit = !host.isEmpty();
        URI url = URI.create("http://" + (explicit ? host : "metadata.google.internal")
                + "/computeMetadata/v1/instance/service-accounts/default/token");
        JsonNode answer;
        try {
            answer = CloudHttp.call("GCE metadata token", "GET", url, Map.of("Metadata-Flavor", "Google"), null, Duration.ofSeconds(5));
        } catch (IOException e) {
            if (explicit) {
                throw e;
            }
            return Optional.empty();
        }
        return Optional.of(accessToken(answer, "access_token", "expires_in"));
    }

    private static RegistryLogin accessToken(JsonNode answer, String tokenField, String expiresField) throws IOException {
        String token = answer.path(tokenField).asText("");
        if (token.isEmpty()) {
            throw new IOException("the token endpoint answered no " + tokenField);
        }
        long seconds = answer.path(expiresField).asLong(3600);
        return new RegistryLogin(USER, token, Instant.now().plusSeconds(seconds));
    }

    private static JsonNode postForm(String what, URI url, Map<String, String> form, Map<String, String> headers) throws IOException {
        String body = form.entrySet().stream().map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "="
                + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8)).collect(Collectors.joining("&"));
        Map<String, String> all = new HashMap<>(headers);
        all.put("Content-Type", "application/x-www-form-urlencoded");
        return CloudHttp.call(what, "POST", url, all, body.getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(30));
    }

    private static String fetchText(URI url, Map<String, String> headers) throws IOException {
        try {
            var request = java.net.http.HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(30)).GET();
            headers.forEach(request::header);
            var response = java.net.http.HttpClient.newHttpClient().send(request.build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() / 100 != 2) {
                throw new IOException("subject token at " + CloudHttp.shown(url) + " answered HTTP " + response.statusCode());
            }
            return response.body();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private static String required(JsonNode json, String field, Path file) throws IOException {
        String value = json.path(field).asText("");
        if (value.isEmpty()) {
            throw new IOException("GOOGLE_APPLICATION_CREDENTIALS=" + file + ": no " + field);
        }
        return value;
    }

    private static PrivateKey privateKey(String pem, Path file) throws IOException {
        String base64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        try {
            return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(base64)));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IOException("GOOGLE_APPLICATION_CREDENTIALS=" + file + ": private_key is not a PKCS#8 RSA key", e);
        }
    }

    private static String base64Url(byte[] bytes) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
