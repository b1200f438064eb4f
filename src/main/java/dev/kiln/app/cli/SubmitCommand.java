package dev.kiln.app.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.builder.gateway.ContextArchive;
import dev.kiln.registry.client.Credentials;
import dev.kiln.registry.client.DockerCredentials;
import dev.kiln.registry.client.NetworkFailures;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code kiln submit}: streams a context directory to a gateway's build API as a tar.gz (made on
 * the fly, {@code .dockerignore} applied), follows the build's log to standard output and exits
 * with the build's outcome. The submission's own answer is the log (one request); a gateway that
 * answers with the record only, or a stream cut short, is followed at the build's log URL instead.
 * Plain Java: it never boots Quarkus.
 */
@Command(name = "submit", mixinStandardHelpOptions = true, versionProvider = KilnVersion.class,
        description = {"Build on a Kiln gateway: send the context, follow the log, exit 0 when the build succeeded, 1 otherwise."})
public class SubmitCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int FOLLOW_ATTEMPTS = 5;
    private static final long QUEUE_POLL_MILLIS = 1000;

    @Parameters(index = "0", defaultValue = ".", paramLabel = "CONTEXT", description = "Context directory (default ${DEFAULT-VALUE})")
    Path context;

    @Option(names = {"-f", "--file", "--dockerfile"}, defaultValue = "Dockerfile",
            description = "Dockerfile, inside the context (default ${DEFAULT-VALUE}; relative to the context unless it exists as given)")
    Path dockerfile;

    @Option(names = {"-t", "--tag", "-d", "--destination"}, paramLabel = "REF", description = "Image to push to (repeatable)")
    List<String> destinations = new ArrayList<>();

    @Option(names = "--build-arg", paramLabel = "KEY[=VALUE]", description = "Build argument; KEY alone takes the value from the environment (repeatable)")
    List<String> buildArgs = new ArrayList<>();

    @Option(names = "--label", paramLabel = "KEY=VALUE", description = "Label added to the image (repeatable)")
    List<String> labels = new ArrayList<>();

    @Option(names = "--target", description = "Stage to build")
    String target;

    @Option(names = "--platform", description = "Target platform, e.g. linux/arm64")
    String platform;

    @Option(names = "--cache", description = "Use the gateway's layer cache: steps already built are taken from it, new ones added")
    boolean cache;

    @Option(names = "--gateway", paramLabel = "URL", description = "The gateway, e.g. http://kiln:5000 (default: $KILN_GATEWAY)")
    String gateway;

    @Option(names = {"-u", "--username"}, description = "User for the gateway (default: from the docker config for its host)")
    String username;

    @Option(names = {"-p", "--password"}, description = "Password for the gateway (default: $KILN_PASSWORD)")
    String password;

    @Option(names = "--detach", description = "Print the build id and exit once the gateway accepted the build")
    boolean detach;

    private final PrintStream out;
    private final PrintStream err;

    public SubmitCommand() {
        this(System.out, System.err);
    }

    public SubmitCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() {
        try {
            URI base = gatewayUri();
            Path root = context.toAbsolutePath().normalize();
            if (!Files.isDirectory(root)) {
                err.println("error: the context " + context + " is not a directory");
                return 1;
            }
            String relativeDockerfile = dockerfileInContext(root);
            Optional<String> authorization = authorization(base);
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(10)).build();
            Events events = new Events(base);
            String id = send(http, base, root, relativeDockerfile, authorization, events);
            if (id == null) {
                return 1;
            }
            if (detach) {
                out.println(id);
                return 0;
            }
            if (events.exit != null) {
                return events.exit;
            }
            if (events.offset < 0) {
                waitInQueue(http, base, id, authorization, events);
            }
            return follow(http, base, id, authorization, events);
        } catch (IOException e) {
            err.println("error: " + NetworkFailures.reason(e));
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("error: interrupted");
            return 1;
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
    }

    private URI gatewayUri() {
        String url = gateway != null ? gateway : System.getenv("KILN_GATEWAY");
        if (url == null || url.isBlank()) {
            throw new IllegalArgumentException("give the gateway with --gateway URL (or $KILN_GATEWAY)");
        }
        String withScheme = url.contains("://") ? url : "http://" + url;
        return URI.create(withScheme.replaceAll("/+$", ""));
    }

    private String dockerfileInContext(Path root) {
        Path file = Files.exists(dockerfile) ? dockerfile.toAbsolutePath().normalize() : root.resolve(dockerfile).normalize();
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no Dockerfile at " + file);
        }
        if (!file.startsWith(root)) {
            throw new IllegalArgumentException("the Dockerfile " + file + " must be inside the context " + root
                    + ": the gateway reads it from the uploaded context");
        }
        return root.relativize(file).toString().replace('\\', '/');
    }

    private Optional<String> authorization(URI base) throws IOException {
        String user = username;
        String secret = password != null ? password : System.getenv("KILN_PASSWORD");
        if (user != null) {
            if (secret == null) {
                throw new IllegalArgumentException("--username needs --password (or $KILN_PASSWORD)");
            }
            return Optional.of(new Credentials(user, secret).basicHeader());
        }
        String host = base.getPort() < 0 ? base.getHost() : base.getHost() + ":" + base.getPort();
        return DockerCredentials.fromEnvironment().lookup(host).map(Credentials::basicHeader);
    }

    /**
     * Posts the context, made while it is sent; the build id, or null after printing why the gateway
     * refused. Unless detached, asks for the log in the answer and reads it into {@code events}.
     */
    private String send(HttpClient http, URI base, Path root, String relativeDockerfile, Optional<String> authorization,
                        Events events) throws IOException, InterruptedException {
        StringBuilder query = new StringBuilder("?dockerfile=").append(encode(relativeDockerfile));
        destinations.forEach(d -> query.append("&destination=").append(encode(d)));
        KeyValueFlags.buildArgs(buildArgs, System.getenv())
                .forEach((k, v) -> query.append("&buildArg=").append(encode(k + "=" + v)));
        KeyValueFlags.labels(labels).forEach((k, v) -> query.append("&label=").append(encode(k + "=" + v)));
        if (target != null) {
            query.append("&target=").append(encode(target));
        }
        if (platform != null) {
            query.append("&platform=").append(encode(platform));
        }
        if (cache) {
            query.append("&cache=true");
        }
        PipedInputStream body = new PipedInputStream(256 * 1024);
        PipedOutputStream pipe = new PipedOutputStream(body);
        AtomicReference<IOException> archiveFailure = new AtomicReference<>();
        Thread writer = new Thread(() -> {
            try (OutputStream o = pipe) {
                ContextArchive.write(root, relativeDockerfile, o);
            } catch (IOException e) {
                archiveFailure.set(e);
            }
        }, "kiln-submit-context");
        writer.setDaemon(true);
        writer.start();
        HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve("/api/v1/builds" + query))
                .header("Content-Type", "application/gzip")
                .header("Accept", detach ? "application/json" : "text/event-stream, application/json")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> body));
        authorization.ifPresent(a -> request.header("Authorization", a));
        HttpResponse<InputStream> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException unreachable) {
            if (archiveFailure.get() == null) {
                err.println("error: cannot reach the gateway at " + base + ": " + NetworkFailures.reason(unreachable)
                        + "; start one with `kiln serve` or name another with --gateway URL (or $KILN_GATEWAY)");
                return null;
            }
            throw unreachable;
        } finally {
            body.close();
        }
        if (archiveFailure.get() != null) {
            throw new IOException("reading the context " + root + ": " + archiveFailure.get().getMessage(), archiveFailure.get());
        }
        if (response.statusCode() != 202) {
            err.println("error: the gateway refused the build: " + problem(response.statusCode(), readAll(response.body())));
            return null;
        }
        if (!response.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
            JsonNode accepted = JSON.readTree(readAll(response.body()));
            String id = accepted.get("id").asText();
            err.println("build " + id + " accepted by " + base);
            return id;
        }
        try (InputStream stream = response.body()) {
            events.read(stream);
        } catch (IOException cut) {
            if (events.id == null) {
                throw cut;
            }
            // the build goes on: followed again at its log, from the last line shown
        }
        if (events.id == null) {
            throw new IOException("the gateway's answer ended before it named the build");
        }
        return events.id;
    }

    private static String readAll(InputStream body) throws IOException {
        try (InputStream in = body) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * What the gateway's server-sent events said so far: the build's id (from the submission's
     * {@code accepted} event), the byte offset after the last log line shown (-1 before any), the
     * queue position last shown, and the exit code once the {@code end} event came.
     */
    private final class Events {
        private final URI base;
        String id;
        long offset = -1;
        long position = -1;
        Integer exit;

        Events(URI base) {
            this.base = base;
        }

        /** Reads events until the end event (or the stream's end); log lines go to standard output. */
        void read(InputStream stream) throws IOException {
            String event = null;
            BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8));
            for (String line; (line = reader.readLine()) != null; ) {
                if (line.startsWith("id: ")) {
                    offset = Long.parseLong(line.substring(4).trim());
                } else if (line.startsWith("event: ")) {
                    event = line.substring(7);
                } else if (line.startsWith("data: ")) {
                    data(event == null ? "" : event, line.substring(6));
                    if (exit != null) {
                        return;
                    }
                } else if (line.isEmpty()) {
                    event = null;
                }
            }
        }

        private void data(String event, String data) throws IOException {
            switch (event) {
                case "accepted" -> {
                    id = JSON.readTree(data).get("id").asText();
                    err.println("build " + id + " accepted by " + base);
                }
                case "queued" -> queuedAt(id, JSON.readTree(data).path("queuePosition").asLong(0));
                case "end" -> exit = ended(JSON.readTree(data));
                default -> out.println(data);
            }
        }

        /** Says where the build waits, once per position. */
        void queuedAt(String build, long now) {
            if (now > 0 && now != position) {
                err.println("build " + build + " queued: position " + now + " (" + (now - 1) + " ahead)");
                position = now;
            }
        }
    }

    /**
     * While the build waits for a slot its log is empty: says where it stands in the queue instead,
     * one line each time the position changes. Returns once it left the queue (or its status is unreadable:
     * following the log then says why).
     */
    private void waitInQueue(HttpClient http, URI base, String id, Optional<String> authorization, Events events)
            throws IOException, InterruptedException {
        while (true) {
            HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve("/api/v1/builds/" + id))
                    .header("Accept", "application/json");
            authorization.ifPresent(a -> request.header("Authorization", a));
            HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                return;
            }
            JsonNode status = JSON.readTree(response.body());
            if (!"queued".equals(status.path("state").asText())) {
                return;
            }
            events.queuedAt(id, status.path("queuePosition").asLong(0));
            Thread.sleep(QUEUE_POLL_MILLIS);
        }
    }

    /** Prints the log as it is written, after what {@code events} showed already; the exit code from the build's end state. */
    private int follow(HttpClient http, URI base, String id, Optional<String> authorization, Events events)
            throws IOException, InterruptedException {
        IOException last = null;
        for (int attempt = 0; attempt < FOLLOW_ATTEMPTS; attempt++) {
            HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve("/api/v1/builds/" + id + "/log"))
                    .header("Accept", "text/event-stream")
                    .header("Last-Event-ID", Long.toString(Math.max(0, events.offset)));
            authorization.ifPresent(a -> request.header("Authorization", a));
            try {
                HttpResponse<InputStream> response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
                if (response.statusCode() != 200) {
                    String text;
                    try (InputStream in = response.body()) {
                        text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                    }
                    err.println("error: following the log of build " + id + ": HTTP " + response.statusCode() + " " + text);
                    return 1;
                }
                try (InputStream stream = response.body()) {
                    events.read(stream);
                }
                if (events.exit != null) {
                    return events.exit;
                }
                last = new IOException("the log stream ended before the build did");
            } catch (IOException e) {
                last = e;
            }
            Thread.sleep(1000L * (attempt + 1));
        }
        err.println("error: lost the log of build " + id + ": " + (last == null ? "" : NetworkFailures.reason(last)));
        return 1;
    }

    private int ended(JsonNode end) {
        String state = end.path("state").asText();
        if (state.equals("succeeded")) {
            err.println("build " + end.path("id").asText() + " succeeded: " + end.path("digest").asText());
            end.path("pushed").forEach(p -> err.println("pushed " + p.asText()));
            return 0;
        }
        err.println("error: build " + end.path("id").asText() + " " + state
                + (end.hasNonNull("error") ? ": " + end.get("error").asText() : ""));
        return 1;
    }

    private static String problem(int status, String body) {
        try {
            JsonNode problem = JSON.readTree(body);
            if (problem != null && problem.hasNonNull("title")) {
                return problem.get("title").asText() + " (HTTP " + status + "): " + problem.path("detail").asText();
            }
        } catch (IOException notJson) {
            // fall through to the raw answer
        }
        return "HTTP " + status + " " + body;
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }
}
