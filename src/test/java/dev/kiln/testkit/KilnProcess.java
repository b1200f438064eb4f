package dev.kiln.testkit;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The packaged Kiln jar ({@code -Dkiln.jar}, set by failsafe) running {@code serve} as a real process
 * on a free port, with its output in {@code target/it-logs/}. {@link #kill()} is SIGKILL on the java
 * process itself: a command prefix such as {@code unshare … sh -c '… exec "$@"'} must exec into java.
 */
public final class KilnProcess implements AutoCloseable {
    /** On an idle machine (20 times the idle start-up); {@link Slowness} scales it. */
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    private final Options options;
    private final Path store;
    private Process process;
    private int port;
    private Path log;

    private KilnProcess(Options options) {
        this.options = options;
        this.store = options.store;
    }

    /** Starts {@code kiln serve --port <free> --store <store> <extraArgs…>} and waits until GET /v2/ answers. */
    public static KilnProcess start(String name, Path store, String... extraArgs) {
        return configure(name, store).args(extraArgs).start();
    }

    /** As {@link #start(String, Path, String...)}, with {@code prefix} run first and given the java command as arguments. */
    public static KilnProcess start(String name, List<String> prefix, Path store, String... extraArgs) {
        return configure(name, store).prefix(prefix).args(extraArgs).start();
    }

    /** The options of a server named {@code name} (its log's name) on {@code store}, for {@link Options#start()}. */
    public static Options configure(String name, Path store) {
        return new Options(name, store, store.toString());
    }

    /** As {@link #configure} with {@code --store} given as is, e.g. an {@code s3://} URL; {@link #store()} is then null. */
    public static Options configureOn(String name, String storeArgument) {
        return new Options(name, null, storeArgument);
    }

    /** As {@link #start(String, List, Path, String...)} with {@code --store} given as is. */
    public static KilnProcess startOn(String name, List<String> prefix, String storeArgument, String... extraArgs) {
        return configureOn(name, storeArgument).prefix(prefix).args(extraArgs).start();
    }

    /** How the server is started; each list defaults to empty. */
    public static final class Options {
        private final String name;
        private final Path store;
        private final String storeArgument;
        private List<String> prefix = List.of();
        private final List<String> jvmOptions = new ArrayList<>();
        private final List<String> args = new ArrayList<>();
        private int port;

        private Options(String name, Path store, String storeArgument) {
            this.name = name;
            this.store = store;
            this.storeArgument = storeArgument;
        }

        /** A command run first and given the java command as arguments; it must exec into java. */
        public Options prefix(List<String> command) {
            this.prefix = List.copyOf(command);
            return this;
        }

        /** JVM options after the kit's own (so {@code -Xmx512m} wins over its default heap). */
        public Options jvmOptions(String... options) {
            jvmOptions.addAll(List.of(options));
            return this;
        }

        /** System properties, {@code key=value} each, e.g. per-upstream credentials and timeouts. */
        public Options systemProperties(List<String> properties) {
            properties.forEach(p -> jvmOptions.add("-D" + p));
            return this;
        }

        /** A port chosen beforehand (see {@link Ports#freePort()}), e.g. for servers that must know each other's URLs. */
        public Options port(int chosen) {
            this.port = chosen;
            return this;
        }

        /** Arguments after {@code serve --port P --store S}. */
        public Options args(String... serveArgs) {
            args.addAll(List.of(serveArgs));
            return this;
        }

        /** Starts the server and waits until GET /v2/ answers (fails the test with the log tail otherwise). */
        public KilnProcess start() {
            KilnProcess kiln = new KilnProcess(this);
            kiln.port = port;
            kiln.launch();
            return kiln;
        }
    }

    /** Starts the server again on the same store, arguments and (when still free) port. */
    public KilnProcess restart() {
        if (process != null && process.isAlive()) {
            stop();
        }
        KilnProcess again = new KilnProcess(options);
        again.port = port;
        again.launch();
        return again;
    }

    public static Path jar() {
        String jar = System.getProperty("kiln.jar");
        if (jar == null || jar.isBlank()) {
            fail("system property kiln.jar is not set: run the integration tests through Maven's failsafe (mvn verify)");
        }
        Path path = Path.of(jar);
        if (!Files.isRegularFile(path)) {
            fail("the packaged jar " + path + " does not exist: the package phase must run before integration-test");
        }
        return path;
    }

    static Path logDir() {
        Path dir = Path.of(System.getProperty("kiln.it.logs", "target/it-logs"));
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return dir.toAbsolutePath();
    }

    static List<String> java() {
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    private void launch() {
        if (port == 0 || !Ports.isFree(port)) {
            port = Ports.freePort();
        }
        List<String> command = new ArrayList<>(options.prefix);
        command.addAll(java());
        command.addAll(List.of("-Xmx384m", "-XX:+UseSerialGC", "-Dquarkus.http.access-log.enabled=true"));
        command.addAll(options.jvmOptions);
        command.addAll(List.of("-jar", jar().toString(), "serve", "--port", Integer.toString(port), "--store", options.storeArgument));
        command.addAll(options.args);
        log = logDir().resolve(options.name + "-" + SEQUENCE.incrementAndGet() + "-" + port + ".log");
        try {
            Files.writeString(log, "$ " + String.join(" ", command) + "\n", StandardCharsets.UTF_8);
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            process = builder.start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + command + ": " + e.getMessage(), e);
        }
        waitUntilReady();
    }

    private void waitUntilReady() {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        Duration timeout = Slowness.scale(START_TIMEOUT);
        String scaling = Slowness.describe();
        long started = System.nanoTime();
        long deadline = started + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                fail("kiln exited with " + process.exitValue() + " before answering on port " + port + " (" + scaling + "); its log "
                        + log + ":\n" + logTail());
            }
            try {
                // A loaded machine answers slowly: the request may take as long as the start-up is allowed to.
                HttpResponse<Void> response = client.send(HttpRequest.newBuilder(URI.create(baseUrl() + "/v2/"))
                        .timeout(Slowness.scale(Duration.ofSeconds(2))).GET().build(), HttpResponse.BodyHandlers.discarding());
                if (response.statusCode() == 200 || response.statusCode() == 401) {
                    Slowness.startedIn(Duration.ofNanos(System.nanoTime() - started));
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            Poll.sleep(100);
        }
        Slowness.requestThreadDump(process.pid());
        kill();
        fail("kiln did not answer GET /v2/ on port " + port + " within " + timeout.toSeconds() + " s (" + scaling
                + "; now " + Slowness.describe() + "); its log " + log + " with a thread dump:\n"
                + Slowness.tail(log(), 400));
    }

    public int port() {
        return port;
    }

    /** {@code 127.0.0.1:<port>}, as image references want it. */
    public String hostPort() {
        return "127.0.0.1:" + port;
    }

    public String baseUrl() {
        return "http://" + hostPort();
    }

    public Path store() {
        return store;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** SIGTERM, then waits for the process to end (SIGKILL after 30 s). Returns the exit code. */
    public int stop() {
        process.destroy();
        return await(30);
    }

    /** SIGKILL on the server process: no shutdown hook, no flush, as a power cut looks to the process. */
    public int kill() {
        process.destroyForcibly();
        return await(30);
    }

    private int await(int seconds) {
        try {
            if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
            return process.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        if (process != null && process.isAlive()) {
            kill();
        }
    }

    public Path logFile() {
        return log;
    }

    /** The server's output so far. */
    public String log() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    /** The last 80 lines of the server's output, for failure messages. */
    public String logTail() {
        return Slowness.tail(log(), 80);
    }

    /** Where the store keeps a blob. */
    public Path blobFile(String digest) {
        String hex = digest.substring(digest.indexOf(':') + 1);
        return store.resolve("blobs").resolve(digest.substring(0, digest.indexOf(':'))).resolve(hex.substring(0, 2)).resolve(hex);
    }

    /** Sum of the sizes of every blob in the store; -1 when a file went away while walking (callers poll). */
    public long storeBytes() {
        Path blobs = store.resolve("blobs");
        if (!Files.isDirectory(blobs)) {
            return 0;
        }
        try (var files = Files.walk(blobs)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        } catch (IOException | UncheckedIOException e) {
            return -1;
        }
    }

    /** The value of one Prometheus sample on /q/metrics whose labels include {@code labels} ("k=v"), summed; 0 when absent. */
    public double metric(String name, String... labels) {
        String text;
        try {
            text = Http.client().send(HttpRequest.newBuilder(URI.create(baseUrl() + "/q/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        double total = 0;
        boolean found = false;
        for (String line : text.split("\n")) {
            if (line.startsWith("#") || !(line.startsWith(name + "{") || line.startsWith(name + " "))) {
                continue;
            }
            String labelPart = line.contains("{") ? line.substring(line.indexOf('{') + 1, line.lastIndexOf('}')) : "";
            boolean matches = true;
            for (String label : labels) {
                String[] kv = label.split("=", 2);
                if (!labelPart.contains(kv[0] + "=\"" + kv[1] + "\"")) {
                    matches = false;
                }
            }
            if (matches) {
                total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                found = true;
            }
        }
        return found ? total : 0;
    }

    /** {@code kiln fsck} on this server's store, run as its own process. */
    public ExecResult fsck() {
        return fsck(store);
    }

    /** Runs {@code kiln fsck --store <store> <args…>} as its own process. */
    public static ExecResult fsck(Path store, String... args) {
        return command("fsck", store, args);
    }

    /** Runs {@code kiln gc --store <store> <args…>} as its own process. */
    public static ExecResult gc(Path store, String... args) {
        return command("gc", store, args);
    }

    /** Runs {@code kiln <args…>} as its own process with {@code env} added, e.g. {@code fsck --store s3://…} with its credentials. */
    public static ExecResult run(Map<String, String> env, String... args) {
        List<String> line = new ArrayList<>(java());
        line.addAll(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", jar().toString()));
        line.addAll(List.of(args));
        return Tools.run(line, env, 120);
    }

    private static ExecResult command(String command, Path store, String... args) {
        List<String> line = new ArrayList<>(java());
        line.addAll(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", jar().toString(), command, "--store", store.toString()));
        line.addAll(List.of(args));
        ExecResult result = Tools.run(line, Map.of(), 120);
        try {
            Files.writeString(logDir().resolve(command + "-" + SEQUENCE.incrementAndGet() + ".log"),
                    "$ " + String.join(" ", line) + "\nexit " + result.exitCode() + "\n" + result.output(), StandardCharsets.UTF_8);
        } catch (IOException ignored) {
            // the log is only for debugging
        }
        return result;
    }
}
