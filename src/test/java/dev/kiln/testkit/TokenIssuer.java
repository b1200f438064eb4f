package dev.kiln.testkit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A Docker token service for distribution's {@code auth: token}: an RSA key and self-signed
 * certificate made with openssl, RS256 JWTs carrying the certificate in {@code x5c}. Grants what the
 * scope asks to the configured user; anonymous callers get a token that grants nothing.
 */
public final class TokenIssuer implements AutoCloseable {
    public static final String SERVICE = "kiln-test-registry";
    public static final String ISSUER = "kiln-test-issuer";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;
    private final Path certFile;
    private final PrivateKey key;
    private final String x5c;
    private final String username;
    private final String password;
    private final List<Request> requests = new CopyOnWriteArrayList<>();

    /** A token request as the service saw it. */
    public record Request(String authorization, String service, List<String> scopes, String userAgent) {
        public boolean fromKiln() {
            return userAgent != null && userAgent.startsWith("kiln/");
        }
    }

    public TokenIssuer(Path dir, String username, String password) throws Exception {
        this.username = username;
        this.password = password;
        Files.createDirectories(dir);
        Path keyFile = dir.resolve("token-key.pem");
        certFile = dir.resolve("token-cert.pem");
        Tools.run(List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", keyFile.toString(), "-out", certFile.toString(), "-days", "2", "-subj", "/CN=" + ISSUER), Map.of(), 60).requireSuccess();
        String pem = Files.readString(keyFile).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
        X509Certificate cert;
        try (var in = Files.newInputStream(certFile)) {
            cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        x5c = Base64.getEncoder().encodeToString(cert.getEncoded());
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/token", this::token);
        server.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread thread = new Thread(r, "token-issuer");
            thread.setDaemon(true);
            return thread;
        }));
        server.start();
    }

    public String realm() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
    }

    /** The {@code auth:} section of a distribution config that trusts this issuer. */
    public String authYaml() {
        return """
                auth:
                  token:
                    realm: %s
                    service: %s
                    issuer: %s
                    rootcertbundle: %s
                """.formatted(realm(), SERVICE, ISSUER, certFile);
    }

    public List<Request> requests() {
        return List.copyOf(requests);
    }

    public String basic() {
        return "Basic " + Base64.getEncoder().encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    private void token(HttpExchange exchange) {
        try {
            issue(exchange);
        } catch (Exception e) {
            send(exchange, 500, "{\"error\":\"" + e + "\"}");
        } finally {
            exchange.close();
        }
    }

    private void issue(HttpExchange exchange) throws Exception {
        String service = null;
        List<String> scopes = new ArrayList<>();
        String query = exchange.getRequestURI().getRawQuery();
        for (String pair : query == null ? new String[0] : query.split("&")) {
            String[] kv = pair.split("=", 2);
            String value = kv.length > 1 ? URLDecoder.decode(kv[1], StandardCharsets.UTF_8) : "";
            if (kv[0].equals("service")) {
                service = value;
            } else if (kv[0].equals("scope")) {
                scopes.add(value);
            }
        }
        String authorization = exchange.getRequestHeaders().getFirst("Authorization");
        requests.add(new Request(authorization, service, List.copyOf(scopes), exchange.getRequestHeaders().getFirst("User-Agent")));
        if (authorization != null && !authorization.equals(basic())) {
            send(exchange, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"bad credentials\"}]}");
            return;
        }
        boolean authenticated = authorization != null;
        ArrayNode access = JSON.createArrayNode();
        if (authenticated) {
            for (String scope : scopes) {
                String[] parts = scope.split(":");
                if (parts.length == 3 && parts[0].equals("repository")) {
                    ObjectNode entry = access.addObject();
                    entry.put("type", "repository");
                    entry.put("name", parts[1]);
                    ArrayNode actions = entry.putArray("actions");
                    for (String action : parts[2].split(",")) {
                        actions.add(action);
                    }
                }
            }
        }
        String jwt = jwt(authenticated ? username : "", service == null ? SERVICE : service, access);
        ObjectNode body = JSON.createObjectNode();
        body.put("token", jwt);
        body.put("access_token", jwt);
        body.put("expires_in", 300);
        body.put("issued_at", Instant.now().toString());
        send(exchange, 200, JSON.writeValueAsString(body));
    }

    private String jwt(String subject, String audience, ArrayNode access) throws Exception {
        ObjectNode header = JSON.createObjectNode();
        header.put("typ", "JWT");
        header.put("alg", "RS256");
        header.putArray("x5c").add(x5c);
        long now = Instant.now().getEpochSecond();
        ObjectNode claims = JSON.createObjectNode();
        claims.put("iss", ISSUER);
        claims.put("sub", subject);
        claims.put("aud", audience);
        claims.put("exp", now + 300);
        claims.put("nbf", now - 10);
        claims.put("iat", now);
        claims.put("jti", UUID.randomUUID().toString());
        claims.set("access", access);
        Base64.Encoder url = Base64.getUrlEncoder().withoutPadding();
        String signingInput = url.encodeToString(JSON.writeValueAsBytes(header)) + "." + url.encodeToString(JSON.writeValueAsBytes(claims));
        Signature signature = Signature.getInstance("SHA256withRSA");
        signature.initSign(key);
        signature.update(signingInput.getBytes(StandardCharsets.US_ASCII));
        return signingInput + "." + url.encodeToString(signature.sign());
    }

    private static void send(HttpExchange exchange, int status, String json) {
        try {
            byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(status, bytes.length);
            exchange.getResponseBody().write(bytes);
        } catch (IOException ignored) {
            // the caller went away
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
