package dev.kiln.builder.context;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code s3://} against a small S3-compatible server in this test (Debian ships no S3 server). The
 * server does not trust Kiln's signer: it recomputes every signature with botocore (Debian's
 * python3-botocore), an independent SigV4 implementation, and answers 403 SignatureDoesNotMatch
 * unless the two agree.
 */
class S3ContextTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ACCESS_KEY = "KILNTESTACCESSKEY";
    private static final String SECRET_KEY = "kiln/test+secret=key";
    private static final Pattern AUTH = Pattern.compile(
            "AWS4-HMAC-SHA256 Credential=([^/]+)/(\\d{8})/([^/]+)/s3/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})");
    private static final String BOTOCORE_SIGNER = """
            import sys, json
            from botocore.auth import S3SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            req = json.load(sys.stdin)
            creds = Credentials(req['access_key'], req['secret_key'], req.get('session_token'))
            r = AWSRequest(method=req['method'], url=req['url'], headers=req['headers'])
            auth = S3SigV4Auth(creds, 's3', req['region'])
            r.context['timestamp'] = req['headers']['x-amz-date']
            print(auth.signature(auth.string_to_sign(r, auth.canonical_request(r)), r))
            """;

    /** Serves {@code root/BUCKET/KEY} to path-style GETs whose signature botocore agrees with. */
    private static HttpServer s3(Path root, Path signer, List<String> log) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            try {
                String problem = verify(exchange, signer);
                log.add(exchange.getRequestURI().getRawPath() + " " + (problem == null ? "signed" : problem));
                if (problem != null) {
                    error(exchange, 403, "SignatureDoesNotMatch", problem);
                    return;
                }
                Path object = root.resolve(java.net.URLDecoder.decode(exchange.getRequestURI().getRawPath().substring(1)
                        .replace("+", "%2B"), StandardCharsets.UTF_8));
                if (!Files.isRegularFile(object)) {
                    error(exchange, 404, "NoSuchKey", "The specified key does not exist.");
                    return;
                }
                exchange.sendResponseHeaders(200, Files.size(object));
                try (OutputStream out = exchange.getResponseBody()) {
                    Files.copy(object, out);
                }
            } catch (Exception e) {
                error(exchange, 500, "InternalError", e.toString());
            } finally {
                exchange.close();
            }
        });
        server.start();
        return server;
    }

    private static String verify(HttpExchange exchange, Path signer) throws Exception {
        String authorization = exchange.getRequestHeaders().getFirst("Authorization");
        if (authorization == null) {
            return "no Authorization header";
        }
        Matcher m = AUTH.matcher(authorization);
        if (!m.matches()) {
            return "malformed Authorization: " + authorization;
        }
        if (!m.group(1).equals(ACCESS_KEY)) {
            return "unknown access key";
        }
        String amzDate = exchange.getRequestHeaders().getFirst("x-amz-date");
        Instant signedAt = LocalDateTime.parse(amzDate, DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'"))
                .toInstant(ZoneOffset.UTC);
        if (Duration.between(signedAt, Instant.now()).abs().toMinutes() > 15 || !amzDate.startsWith(m.group(2))) {
            return "request time too skewed";
        }
        ObjectNode request = JSON.createObjectNode();
        request.put("method", exchange.getRequestMethod());
        request.put("url", "http://" + exchange.getRequestHeaders().getFirst("Host") + exchange.getRequestURI().getRawPath());
        request.put("access_key", ACCESS_KEY);
        request.put("secret_key", SECRET_KEY);
        request.put("region", m.group(3));
        ObjectNode headers = request.putObject("headers");
        for (String name : m.group(4).split(";")) {
            if (!name.equals("host")) {
                headers.put(name, exchange.getRequestHeaders().getFirst(name));
            }
        }
        Process python = new ProcessBuilder("python3", signer.toString()).start();
        try (OutputStream in = python.getOutputStream()) {
            in.write(JSON.writeValueAsBytes(request));
        }
        String expected = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        String errors = new String(python.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!python.waitFor(30, TimeUnit.SECONDS) || python.exitValue() != 0) {
            throw new IOException("botocore signer failed (is python3-botocore installed?): " + errors);
        }
        return expected.equals(m.group(5)) ? null : "botocore computes " + expected + ", request has " + m.group(5);
    }

    private static void error(HttpExchange exchange, int status, String code, String message) throws IOException {
        byte[] body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>" + message
                + "</Message></Error>").getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    private static Path materialize(String spec, Map<String, String> env, Path work) throws IOException {
        Files.createDirectories(work);
        return ContextSources.parse(spec, new ContextSources.Settings(Downloads.of(false, false), GitOptions.DEFAULT, env,
                new ByteArrayInputStream(new byte[0]), w -> { }, d -> { })).materialize(work);
    }

    @Test
    void fetchesASignedObjectThatAnIndependentSignerAccepts(@TempDir Path dir) throws Exception {
        Path signer = dir.resolve("sign.py");
        Files.writeString(signer, BOTOCORE_SIGNER);
        Path src = Files.createDirectories(dir.resolve("src"));
        Files.writeString(src.resolve("Dockerfile"), "FROM scratch\nCOPY . /\n");
        Path bucket = Files.createDirectories(dir.resolve("store/ctx-bucket/builds/app 1"));
        ContextSourcesTest.exec(dir, "tar", "-czf", bucket.resolve("context+v1.tar.gz").toString(), "-C", "src", ".");
        List<String> requests = new ArrayList<>();
        HttpServer server = s3(dir.resolve("store"), signer, requests);
        try {
            Map<String, String> env = Map.of("S3_ENDPOINT", "http://127.0.0.1:" + server.getAddress().getPort(),
                    "S3_FORCE_PATH_STYLE", "true", "AWS_REGION", "eu-west-3",
                    "AWS_ACCESS_KEY_ID", ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", SECRET_KEY);
            Path ctx = materialize("s3://ctx-bucket/builds/app 1/context+v1.tar.gz", env, dir.resolve("w1"));
            assertEquals("FROM scratch\nCOPY . /\n", Files.readString(ctx.resolve("Dockerfile")));
            assertEquals(List.of("/ctx-bucket/builds/app%201/context%2Bv1.tar.gz signed"), requests);

            ContextException missing = assertThrows(ContextException.class,
                    () -> materialize("s3://ctx-bucket/absent.tar.gz", env, dir.resolve("w2")));
            assertTrue(missing.getMessage().contains("HTTP 404 NoSuchKey"), missing.getMessage());

            Map<String, String> wrongSecret = new java.util.HashMap<>(env);
            wrongSecret.put("AWS_SECRET_ACCESS_KEY", "not-the-secret");
            ContextException refused = assertThrows(ContextException.class,
                    () -> materialize("s3://ctx-bucket/builds/app 1/context+v1.tar.gz", wrongSecret, dir.resolve("w3")));
            assertTrue(refused.getMessage().contains("HTTP 403 SignatureDoesNotMatch"), refused.getMessage());
            assertTrue(!refused.getMessage().contains("not-the-secret"), refused.getMessage());
        } finally {
            server.stop(0);
        }
    }

    @Test
    void urlsArePathStyleOnRequestElseVirtualHosted() throws Exception {
        S3Context virtual = S3Context.parse("s3://bkt/k/ctx.tar.gz", Map.of("AWS_REGION", "eu-central-1"), w -> { }, d -> { });
        assertEquals("https://bkt.s3.eu-central-1.amazonaws.com/k/ctx.tar.gz", virtual.objectUrl().toString());
        S3Context path = S3Context.parse("s3://bkt/k.tgz", Map.of("S3_ENDPOINT", "http://minio:9000",
                "S3_FORCE_PATH_STYLE", "true"), w -> { }, d -> { });
        assertEquals("http://minio:9000/bkt/k.tgz", path.objectUrl().toString());
        assertThrows(ContextException.class, () -> S3Context.parse("s3://bucket-only", Map.of(), w -> { }, d -> { }));
    }
}
