package dev.kiln.registry.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.HostnameVerifier;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLSocketFactory;

/**
 * A client of one registry's distribution API that negotiates auth the way registries expect: try,
 * read the {@code WWW-Authenticate} challenge, answer with Basic credentials or a Bearer token for the
 * repository scope, retry. Tokens are cached per scope until shortly before they expire. Redirects to
 * another host (object storage) are followed without the {@code Authorization} header.
 */
public final class RegistryClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_REDIRECTS = 5;
    private static final String USER_AGENT = "kiln/0.1 (+container-image gateway)";

    private final RegistryEndpoint endpoint;
    private final SSLSocketFactory sslSocketFactory;
    private final HostnameVerifier hostnameVerifier;
    private final ConcurrentHashMap<String, Token> tokens = new ConcurrentHashMap<>();
    private volatile AuthChallenge challenge;

    private record Token(String value, Instant expires) {
    }

    public RegistryClient(RegistryEndpoint endpoint) {
        this.endpoint = endpoint;
        try {
            if (endpoint.skipTlsVerify()) {
                this.sslSocketFactory = TlsTrust.trustingEverything().getSocketFactory();
                this.hostnameVerifier = TlsTrust.ANY_HOST;
            } else if (endpoint.caFile().isPresent()) {
                this.sslSocketFactory = TlsTrust.trusting(endpoint.caFile().get()).getSocketFactory();
                this.hostnameVerifier = null;
            } else {
                this.sslSocketFactory = null;
                this.hostnameVerifier = null;
            }
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalArgumentException("cannot set up TLS for " + endpoint.name() + ": " + e.getMessage(), e);
        }
    }

    public RegistryEndpoint endpoint() {
        return endpoint;
    }

    /** Sends a request for {@code path} (starting with {@code /v2/}) with the repository's {@code action} scope. */
    public UpstreamResponse send(String method, String repository, String path, Map<String, String> headers, String action)
            throws IOException {
        return send(method, URI.create(endpoint.url() + path), List.of(scope(repository, action)), headers, null);
    }

    /** The token scope for {@code action} (e.g. {@code pull} or {@code pull,push}) on a repository. */
    public static String scope(String repository, String action) {
        return "repository:" + repository + ":" + action;
    }

    /**
     * Sends {@code body} (may be null) to {@code uri}, a path of this registry or an upload {@code Location}
     * it returned, authorised for all {@code scopes} at once (a mount needs push on the target and pull on
     * the source). The body is reopened if the first attempt is answered with a challenge.
     */
    public UpstreamResponse send(String method, URI uri, List<String> scopes, Map<String, String> headers, RequestBody body)
            throws IOException {
        String scope = String.join(" ", scopes);
        for (int attempt = 0; ; attempt++) {
            UpstreamResponse response = follow(method, uri, headers, authorization(scope), body);
            if (response.status() != 401 || attempt > 0) {
                return response;
            }
            String offered = response.header("WWW-Authenticate");
            response.close();
            if (!answer(offered, scope)) {
                return follow(method, uri, headers, null, body);
            }
        }
    }

    /** A request body that can be opened again, e.g. a file, for a retry after an auth challenge. */
    public interface RequestBody {
        long length();

        InputStream open() throws IOException;

        static RequestBody of(Path file) throws IOException {
            long size = Files.size(file);
            return new RequestBody() {
                public long length() {
                    return size;
                }

                public InputStream open() throws IOException {
                    return Files.newInputStream(file);
                }
            };
        }

        static RequestBody of(byte[] bytes) {
            return new RequestBody() {
                public long length() {
                    return bytes.length;
                }

                public InputStream open() {
                    return new java.io.ByteArrayInputStream(bytes);
                }
            };
        }
    }

    public UpstreamResponse get(String repository, String path, Map<String, String> headers) throws IOException {
        return send("GET", repository, path, headers, "pull");
    }

    public UpstreamResponse head(String repository, String path, Map<String, String> headers) throws IOException {
        return send("HEAD", repository, path, headers, "pull");
    }

    /**
     * The {@code Authorization} value to send for the repository's {@code action} scope now (null for none),
     * for a client that makes its own requests: the mirror's streaming blob downloads.
     */
    public String authorization(String repository, String action) {
        return authorization(scope(repository, action));
    }

    /**
     * Takes a 401's {@code WWW-Authenticate} for the repository's {@code action} scope as {@link #send} does:
     * fetches a token or checks that Basic credentials exist. Returns whether a retry with
     * {@link #authorization(String, String)} may succeed; throws when the challenge cannot be met.
     */
    public boolean challenged(String wwwAuthenticate, String repository, String action) throws IOException {
        return answer(wwwAuthenticate, scope(repository, action));
    }

    private boolean answer(String wwwAuthenticate, String scope) throws IOException {
        AuthChallenge offered = AuthChallenge.parse(wwwAuthenticate);
        if (offered == null) {
            return false;
        }
        challenge = offered;
        if (offered.scheme().equals("bearer")) {
            tokens.remove(scope);
            fetchToken(offered, scope);
        } else if (!offered.scheme().equals("basic") || endpoint.credentials().isEmpty()) {
            throw new UpstreamException(401, "UNAUTHORIZED", endpoint.name() + " requires "
                    + offered.scheme() + " authentication and no credentials are configured for it");
        }
        return true;
    }

    private String authorization(String scope) {
        AuthChallenge current = challenge;
        if (current == null) {
            return endpoint.credentials().map(Credentials::basicHeader).orElse(null);
        }
        if (current.scheme().equals("bearer")) {
            Token token = tokens.get(scope);
            return token != null && token.expires().isAfter(Instant.now()) ? "Bearer " + token.value() : null;
        }
        return endpoint.credentials().map(Credentials::basicHeader).orElse(null);
    }

    private void fetchToken(AuthChallenge offered, String scope) throws IOException {
        String realm = offered.parameter("realm");
        if (realm == null) {
            throw new UpstreamException(401, "UNAUTHORIZED", endpoint.name() + " sent a Bearer challenge without a realm");
        }
        StringBuilder url = new StringBuilder(realm).append(realm.contains("?") ? '&' : '?');
        if (offered.parameter("service") != null) {
            url.append("service=").append(URLEncoder.encode(offered.parameter("service"), StandardCharsets.UTF_8)).append('&');
        }
        String separator = "";
        for (String one : scope.split(" ")) {
            url.append(separator).append("scope=").append(URLEncoder.encode(one, StandardCharsets.UTF_8));
            separator = "&";
        }
        Map<String, String> headers = Map.of("Accept", "application/json");
        String basic = endpoint.credentials().map(Credentials::basicHeader).orElse(null);
        try (UpstreamResponse response = follow("GET", URI.create(url.toString()), headers, basic, null)) {
            if (response.status() != 200) {
                throw new UpstreamException(response.status() == 429 ? 429 : 401, response.status() == 429 ? "TOOMANYREQUESTS" : "UNAUTHORIZED",
                        "token service " + realm + " answered " + response.status() + (basic == null ? " (no credentials configured)" : ""),
                        response.header("Retry-After"));
            }
            JsonNode json = JSON.readTree(response.body().readNBytes(1 << 20));
            String token = json.hasNonNull("token") ? json.get("token").asText() : json.path("access_token").asText(null);
            if (token == null || token.isEmpty()) {
                throw new UpstreamException(401, "UNAUTHORIZED", "token service " + realm + " returned no token");
            }
            long expiresIn = json.path("expires_in").asLong(60);
            // Renew a little early so a token never expires between being chosen and being checked.
            tokens.put(scope, new Token(token, Instant.now().plusSeconds(Math.max(1, expiresIn - 10))));
        }
    }

    private static String hostPort(URI uri) {
        return uri.getPort() < 0 ? uri.getHost() : uri.getHost() + ":" + uri.getPort();
    }

    private UpstreamResponse follow(String method, URI uri, Map<String, String> headers, String authorization, RequestBody body)
            throws IOException {
        URI current = uri;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            boolean sameOrigin = Objects.equals(current.getHost(), uri.getHost()) && current.getPort() == uri.getPort();
            HttpURLConnection connection = open(method, current, headers, sameOrigin ? authorization : null);
            int status;
            try {
                if (body != null) {
                    connection.setDoOutput(true);
                    connection.setFixedLengthStreamingMode(body.length());
                    try (InputStream in = body.open(); java.io.OutputStream out = connection.getOutputStream()) {
                        in.transferTo(out);
                    }
                }
                status = connection.getResponseCode();
            } catch (IOException e) {
                connection.disconnect();
                if (TlsTrust.untrustedCertificate(e)) {
                    throw new UpstreamException(endpoint.name() + ": the TLS certificate of " + current.getHost()
                            + " is not trusted (" + e.getMessage() + ")", e);
                }
                if (NetworkFailures.speaksPlainHttp(e)) {
                    throw new UpstreamException(endpoint.name() + " answers in plain HTTP, not TLS: to use it over HTTP,"
                            + " pass --insecure-registry " + hostPort(current), e);
                }
                throw new UpstreamException(endpoint.name() + " is unreachable (" + hostPort(current) + "): "
                        + NetworkFailures.reason(e), e);
            }
            if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
                String location = connection.getHeaderField("Location");
                drain(connection);
                if (location == null) {
                    throw new UpstreamException(502, "UNKNOWN", endpoint.name() + " redirected without a Location");
                }
                current = current.resolve(location);
                continue;
            }
            return new UpstreamResponse(connection, status);
        }
        throw new UpstreamException(502, "UNKNOWN", endpoint.name() + " redirected more than " + MAX_REDIRECTS + " times");
    }

    private HttpURLConnection open(String method, URI uri, Map<String, String> headers, String authorization) throws IOException {
        HttpURLConnection connection = (HttpURLConnection) uri.toURL().openConnection();
        if (connection instanceof HttpsURLConnection https) {
            if (sslSocketFactory != null) {
                https.setSSLSocketFactory(sslSocketFactory);
            }
            if (hostnameVerifier != null) {
                https.setHostnameVerifier(hostnameVerifier);
            }
        }
        connection.setInstanceFollowRedirects(false);
        connection.setConnectTimeout((int) endpoint.connectTimeout().toMillis());
        connection.setReadTimeout((int) endpoint.readTimeout().toMillis());
        connection.setRequestMethod(method);
        connection.setUseCaches(false);
        connection.setRequestProperty("User-Agent", USER_AGENT);
        headers.forEach(connection::setRequestProperty);
        if (authorization != null) {
            connection.setRequestProperty("Authorization", authorization);
        }
        return connection;
    }

    private static void drain(HttpURLConnection connection) {
        try (InputStream in = connection.getResponseCode() >= 400 ? connection.getErrorStream() : connection.getInputStream()) {
            if (in != null) {
                in.transferTo(java.io.OutputStream.nullOutputStream());
            }
        } catch (IOException e) {
            connection.disconnect();
        }
    }

    /** Turns an error answer into an exception carrying the upstream's own OCI error code and message. */
    public UpstreamException failure(UpstreamResponse response, String what) {
        byte[] body;
        try {
            body = response.body().readNBytes(ERROR_BODY_BYTES);
        } catch (IOException e) {
            body = new byte[0];
        } finally {
            response.close();
        }
        return failure(response.status(), body, response.header("Retry-After"), what);
    }

    /** How much of an error answer's body {@link #failure(int, byte[], String, String)} reads. */
    public static final int ERROR_BODY_BYTES = 64 * 1024;

    /** The same for an answer read by another client: its status, the start of its body and its {@code Retry-After}. */
    public UpstreamException failure(int status, byte[] body, String retryAfter, String what) {
        String code = switch (status) {
            case 401 -> "UNAUTHORIZED";
            case 403 -> "DENIED";
            case 404 -> "NOT_FOUND";
            case 429 -> "TOOMANYREQUESTS";
            default -> status >= 500 ? "UNAVAILABLE" : "UNKNOWN";
        };
        String message = endpoint.name() + " answered " + status + " for " + what;
        try {
            JsonNode first = JSON.readTree(body).path("errors").path(0);
            if (first.hasNonNull("code")) {
                code = first.get("code").asText();
            }
            if (first.hasNonNull("message")) {
                message += ": " + first.get("message").asText();
            }
        } catch (IOException | RuntimeException ignored) {
            // not OCI error JSON; the status says enough
        }
        if (retryAfter != null) {
            message += " (retry after " + retryAfter + ")";
        }
        return new UpstreamException(status, code, message, retryAfter);
    }

    public static Map<String, String> headers(String... pairs) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i + 1 < pairs.length; i += 2) {
            if (pairs[i + 1] != null) {
                map.put(pairs[i], pairs[i + 1]);
            }
        }
        return map;
    }
}
