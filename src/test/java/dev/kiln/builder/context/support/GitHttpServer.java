package dev.kiln.builder.context.support;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * Real {@code git http-backend} (smart HTTP) behind a small CGI server on a loopback port, over HTTPS
 * with a self-signed certificate made by keytool, or plain HTTP. With a user and password it answers
 * 401 to any request without them; every {@code Authorization} header it receives is recorded.
 */
public final class GitHttpServer implements AutoCloseable {
    private final HttpServer server;
    private final boolean https;
    private final List<String> authorizations = Collections.synchronizedList(new ArrayList<>());

    private GitHttpServer(HttpServer server, boolean https) {
        this.server = server;
        this.https = https;
    }

    /** Serves the bare repositories under {@code root}; {@code keyDir} holds the keystore when {@code https}. */
    public static GitHttpServer serve(Path root, boolean https, Path keyDir, String user, String password) throws Exception {
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        HttpServer server;
        if (https) {
            Path keystore = keyDir.resolve("git-server.p12");
            GitDaemon.run(keyDir, List.of("keytool", "-genkeypair", "-keystore", keystore.toString(), "-storetype", "PKCS12",
                    "-storepass", "changeit", "-keypass", "changeit", "-alias", "git", "-keyalg", "EC", "-dname", "CN=127.0.0.1",
                    "-ext", "SAN=ip:127.0.0.1", "-validity", "2"));
            KeyStore store = KeyStore.getInstance("PKCS12");
            try (InputStream in = java.nio.file.Files.newInputStream(keystore)) {
                store.load(in, "changeit".toCharArray());
            }
            KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keys.init(store, "changeit".toCharArray());
            SSLContext tls = SSLContext.getInstance("TLS");
            tls.init(keys.getKeyManagers(), null, null);
            HttpsServer secure = HttpsServer.create(address, 0);
            secure.setHttpsConfigurator(new HttpsConfigurator(tls));
            server = secure;
        } else {
            server = HttpServer.create(address, 0);
        }
        GitHttpServer git = new GitHttpServer(server, https);
        String expected = user == null ? null
                : "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        server.createContext("/", exchange -> {
            try {
                String auth = exchange.getRequestHeaders().getFirst("Authorization");
                if (auth != null) {
                    git.authorizations.add(auth);
                }
                if (expected != null && !expected.equals(auth)) {
                    exchange.getResponseHeaders().add("WWW-Authenticate", "Basic realm=\"git\"");
                    exchange.sendResponseHeaders(401, -1);
                    return;
                }
                cgi(exchange, root, user);
            } catch (Exception e) {
                exchange.sendResponseHeaders(500, -1);
            } finally {
                exchange.close();
            }
        });
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
        return git;
    }

    private static void cgi(HttpExchange exchange, Path root, String user) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder("git", "http-backend");
        Map<String, String> env = builder.environment();
        env.put("GIT_PROJECT_ROOT", root.toString());
        env.put("GIT_HTTP_EXPORT_ALL", "1");
        env.put("PATH_INFO", exchange.getRequestURI().getPath());
        env.put("QUERY_STRING", exchange.getRequestURI().getRawQuery() == null ? "" : exchange.getRequestURI().getRawQuery());
        env.put("REQUEST_METHOD", exchange.getRequestMethod());
        env.put("REMOTE_ADDR", "127.0.0.1");
        if (user != null) {
            env.put("REMOTE_USER", user);
        }
        String type = exchange.getRequestHeaders().getFirst("Content-Type");
        if (type != null) {
            env.put("CONTENT_TYPE", type);
        }
        String encoding = exchange.getRequestHeaders().getFirst("Content-Encoding");
        if (encoding != null) {
            env.put("HTTP_CONTENT_ENCODING", encoding);
        }
        String protocol = exchange.getRequestHeaders().getFirst("Git-Protocol");
        if (protocol != null) {
            env.put("GIT_PROTOCOL", protocol);
        }
        Process process = builder.start();
        CompletableFuture<Void> body = CompletableFuture.runAsync(() -> {
            try (InputStream in = exchange.getRequestBody(); OutputStream out = process.getOutputStream()) {
                in.transferTo(out);
            } catch (IOException ignored) {
                // the backend may stop reading early
            }
        });
        InputStream out = process.getInputStream();
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int status = 200;
        int c;
        while ((c = out.read()) >= 0) {
            if (c == '\n') {
                String header = line.toString(StandardCharsets.UTF_8).strip();
                line.reset();
                if (header.isEmpty()) {
                    break;
                }
                int colon = header.indexOf(':');
                String name = header.substring(0, colon).strip();
                String value = header.substring(colon + 1).strip();
                if (name.equalsIgnoreCase("Status")) {
                    status = Integer.parseInt(value.split(" ")[0]);
                } else {
                    exchange.getResponseHeaders().add(name, value);
                }
            } else {
                line.write(c);
            }
        }
        exchange.sendResponseHeaders(status, 0);
        try (OutputStream response = exchange.getResponseBody()) {
            out.transferTo(response);
        }
        body.join();
        process.waitFor(60, TimeUnit.SECONDS);
    }

    public String url(String repository) {
        return (https ? "https" : "http") + "://127.0.0.1:" + server.getAddress().getPort() + "/" + repository;
    }

    /** Every Authorization header received so far. */
    public List<String> authorizations() {
        return List.copyOf(authorizations);
    }

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }
}
