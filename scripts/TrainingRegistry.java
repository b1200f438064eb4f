// Run by scripts/aot-cache with a JDK's source launcher: java scripts/TrainingRegistry.java DIR
//
// A registry on a loopback port for the AOT cache's training run, so that the cache holds what a real
// build loads to pull a base image, look up and store cached layers and push (the JDK's HTTP client,
// the registry client, the puller and pusher): a cache trained on a build to a tarball had none of it.
// Prints its port on the first line of standard output, keeps blobs and manifests as files under DIR,
// and stops after ten minutes in case the script that started it never does. Only what Kiln's client
// asks: the OCI Distribution API without auth, tag listing or referrers; digests are checked.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class TrainingRegistry {
    private static final Pattern UPLOAD = Pattern.compile("/v2/(.+)/blobs/uploads/([^/]*)");
    private static final Pattern BLOB = Pattern.compile("/v2/(.+)/blobs/(sha256:[0-9a-f]{64})");
    private static final Pattern MANIFEST = Pattern.compile("/v2/(.+)/manifests/([^/]+)");

    private final Path blobs;
    private final Path manifests;
    private final Path uploads;

    TrainingRegistry(Path dir) throws IOException {
        blobs = Files.createDirectories(dir.resolve("blobs"));
        manifests = Files.createDirectories(dir.resolve("manifests"));
        uploads = Files.createDirectories(dir.resolve("uploads"));
    }

    public static void main(String[] args) throws Exception {
        TrainingRegistry registry = new TrainingRegistry(Path.of(args[0]));
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.createContext("/", exchange -> {
            try (exchange) {
                registry.handle(exchange);
            } catch (IOException | RuntimeException e) {
                System.err.println("training registry: " + exchange.getRequestMethod() + " " + exchange.getRequestURI() + ": " + e);
            }
        });
        server.start();
        System.out.println(server.getAddress().getPort());
        System.out.flush();
        Thread.sleep(600_000);
        System.exit(0);
    }

    void handle(HttpExchange exchange) throws IOException {
        String method = exchange.getRequestMethod();
        String path = exchange.getRequestURI().getPath();
        String query = exchange.getRequestURI().getRawQuery();
        Matcher m;
        if (path.equals("/v2/") || path.equals("/v2")) {
            send(exchange, 200, "application/json", "{}".getBytes(StandardCharsets.UTF_8), method);
        } else if ((m = UPLOAD.matcher(path)).matches()) {
            upload(exchange, method, m.group(1), m.group(2), query);
        } else if ((m = BLOB.matcher(path)).matches() && (method.equals("GET") || method.equals("HEAD"))) {
            Path blob = blobs.resolve(m.group(2));
            if (!Files.exists(blob)) {
                error(exchange, 404, "BLOB_UNKNOWN", method);
                return;
            }
            exchange.getResponseHeaders().set("Docker-Content-Digest", m.group(2));
            exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
            sendFile(exchange, blob, method);
        } else if ((m = MANIFEST.matcher(path)).matches()) {
            manifest(exchange, method, m.group(1), m.group(2));
        } else {
            error(exchange, 404, "NAME_UNKNOWN", method);
        }
    }

    private void upload(HttpExchange exchange, String method, String name, String id, String query) throws IOException {
        String digest = parameter(query, "digest");
        String mount = parameter(query, "mount");
        if (method.equals("POST") && mount != null && Files.exists(blobs.resolve(mount))) {
            created(exchange, "/v2/" + name + "/blobs/" + mount, mount);
        } else if (method.equals("POST")) {
            String session = UUID.randomUUID().toString();
            Files.createFile(uploads.resolve(session));
            if (digest != null) { // a monolithic upload in the POST itself
                finish(exchange, name, session, digest);
                return;
            }
            accepted(exchange, name, session);
        } else if (!id.matches("[0-9a-f-]{36}") || !Files.exists(uploads.resolve(id))) {
            error(exchange, 404, "BLOB_UPLOAD_UNKNOWN", method);
        } else if (method.equals("PATCH")) {
            append(exchange.getRequestBody(), uploads.resolve(id));
            accepted(exchange, name, id);
        } else if (method.equals("PUT") && digest != null) {
            finish(exchange, name, id, digest);
        } else if (method.equals("DELETE")) {
            Files.delete(uploads.resolve(id));
            send(exchange, 204, null, new byte[0], method);
        } else {
            error(exchange, 400, "UNSUPPORTED", method);
        }
    }

    private void finish(HttpExchange exchange, String name, String id, String digest) throws IOException {
        Path upload = uploads.resolve(id);
        append(exchange.getRequestBody(), upload);
        if (!digest.equals(sha256(upload))) {
            Files.delete(upload);
            error(exchange, 400, "DIGEST_INVALID", exchange.getRequestMethod());
            return;
        }
        Files.move(upload, blobs.resolve(digest), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        created(exchange, "/v2/" + name + "/blobs/" + digest, digest);
    }

    private void manifest(HttpExchange exchange, String method, String name, String reference) throws IOException {
        Path dir = manifests.resolve(name.replace('/', '%'));
        if (method.equals("PUT")) {
            Files.createDirectories(dir);
            Path tmp = dir.resolve(UUID.randomUUID() + ".tmp");
            append(exchange.getRequestBody(), tmp);
            String digest = sha256(tmp);
            String type = exchange.getRequestHeaders().getFirst("Content-Type");
            for (String key : reference.startsWith("sha256:") ? new String[] {digest} : new String[] {digest, reference}) {
                Files.copy(tmp, dir.resolve(key), StandardCopyOption.REPLACE_EXISTING);
                Files.writeString(dir.resolve(key + ".type"), type == null ? "application/vnd.oci.image.manifest.v1+json" : type);
            }
            Files.delete(tmp);
            created(exchange, "/v2/" + name + "/manifests/" + digest, digest);
        } else if ((method.equals("GET") || method.equals("HEAD")) && !reference.endsWith(".type") && Files.exists(dir.resolve(reference))) {
            Path manifest = dir.resolve(reference);
            exchange.getResponseHeaders().set("Docker-Content-Digest", sha256(manifest));
            exchange.getResponseHeaders().set("Content-Type", Files.readString(dir.resolve(reference + ".type")));
            sendFile(exchange, manifest, method);
        } else {
            error(exchange, 404, "MANIFEST_UNKNOWN", method);
        }
    }

    private static void append(InputStream body, Path file) throws IOException {
        try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            body.transferTo(out);
        }
    }

    private static String sha256(Path file) throws IOException {
        try (var in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(OutputStream.nullOutputStream());
            return "sha256:" + HexFormat.of().formatHex(in.getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String parameter(String query, String name) {
        if (query != null) {
            for (String pair : query.split("&")) {
                if (pair.startsWith(name + "=")) {
                    return java.net.URLDecoder.decode(pair.substring(name.length() + 1), StandardCharsets.UTF_8);
                }
            }
        }
        return null;
    }

    private void accepted(HttpExchange exchange, String name, String session) throws IOException {
        exchange.getResponseHeaders().set("Location", "/v2/" + name + "/blobs/uploads/" + session);
        exchange.getResponseHeaders().set("Docker-Upload-UUID", session);
        exchange.getResponseHeaders().set("Range", "0-" + Math.max(0, Files.size(uploads.resolve(session)) - 1));
        send(exchange, 202, null, new byte[0], exchange.getRequestMethod());
    }

    private static void created(HttpExchange exchange, String location, String digest) throws IOException {
        exchange.getResponseHeaders().set("Location", location);
        exchange.getResponseHeaders().set("Docker-Content-Digest", digest);
        send(exchange, 201, null, new byte[0], exchange.getRequestMethod());
    }

    private static void error(HttpExchange exchange, int status, String code, String method) throws IOException {
        byte[] body = ("{\"errors\":[{\"code\":\"" + code + "\",\"message\":\"" + code.toLowerCase().replace('_', ' ') + "\"}]}")
                .getBytes(StandardCharsets.UTF_8);
        send(exchange, status, "application/json", body, method);
    }

    private static void send(HttpExchange exchange, int status, String type, byte[] body, String method) throws IOException {
        if (type != null) {
            exchange.getResponseHeaders().set("Content-Type", type);
        }
        exchange.getResponseHeaders().set("Docker-Distribution-API-Version", "registry/2.0");
        if (method.equals("HEAD") || body.length == 0) {
            exchange.getResponseHeaders().set("Content-Length", Integer.toString(body.length));
            exchange.sendResponseHeaders(status, -1);
        } else {
            exchange.sendResponseHeaders(status, body.length);
            exchange.getResponseBody().write(body);
        }
    }

    private static void sendFile(HttpExchange exchange, Path file, String method) throws IOException {
        long size = Files.size(file);
        exchange.getResponseHeaders().set("Content-Length", Long.toString(size));
        if (method.equals("HEAD")) {
            exchange.sendResponseHeaders(200, -1);
        } else {
            exchange.sendResponseHeaders(200, size == 0 ? -1 : size);
            try (InputStream in = Files.newInputStream(file)) {
                in.transferTo(exchange.getResponseBody());
            }
        }
    }
}
