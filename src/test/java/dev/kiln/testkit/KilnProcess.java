package dev.kiln.testkit;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.ServerSocket;
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

    private final Path store;
    private final String storeArgument;
    private final List<String> prefix;
    private final List<String> extraArgs;
    private final String name;
    private Process process;
    private int port;
    private Path log;

    private KilnProcess(Path store, List<String> prefix, List<String> extraArgs, String name) {
        this(store, store.toString(), prefix, extraArgs, name);
    }

    private KilnProcess(Path store, String storeArgument, List<String> prefix, List<String> extraArgs, String name) {
        this.store = store;
        this.storeArgument = storeArgument;
        this.prefix = List.copyOf(prefix);
        this.extraArgs = List.copyOf(extraArgs);
        this.name = name;
    }

    /** Starts {@code kiln serve --port <free> --store <store> <extraArgs…>} and waits until GET /v2/ answers. */
    public static KilnProcess start(String name, Path store, String... extraArgs) {
        return start(name, List.of(), store, extraArgs);
    }

    /** As {@link #start(String, Path, String...)}, with {@code prefix} run first and given the java command as arguments. */
    public static KilnProcess start(String name, List<String> prefix, Path store, String... extraArgs) {
        KilnProcess kiln = new KilnProcess(store, prefix, List.of(extraArgs), name);
        kiln.launch();
        return kiln;
    }

    /** As {@link #start(String, Path, String...)} with {@code --store} given as is, e.g. an {@code s3://} URL; {@link #store()} is null. */
    public static KilnProcess startOn(String name, List<String> prefix, String storeArgument, String... extraArgs) {
        KilnProcess kiln = new KilnProcess(null, storeArgument, prefix, List.of(extraArgs), name);
        kiln.launch();
        return kiln;
    }

    /** Starts the server again on the same store, arguments and (when still free) port. */
    public KilnProcess restart() {
        if (process != null && process.isAlive()) {
            stop();
        }
        KilnProcess again = new KilnProcess(store, storeArgument, prefix, extraArgs, name);
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
        if (port == 0 || !portFree(port)) {
            port = freePort();
        }
        List<String> command = new ArrayList<>(prefix);
        command.addAll(java());
        command.addAll(List.of("-Xmx384m", "-XX:+UseSerialGC", "-Dquarkus.http.access-log.enabled=true",
                "-jar", jar().toString(), "serve", "--port", Integer.toString(port), "--store", storeArgument));
        command.addAll(extraArgs);
        log = logDir().resolve(name + "-" + SEQUENCE.incrementAndGet() + "-" + port + ".log");
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
            sleep(100);
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

    /** Runs {@code kiln fsck --store <store> <args…>} as its own process. */
    public static ExecResult fsck(Path store, String... args) {
        return command("fsck", store, args);
    }

    /** Runs {@code kiln gc --store <store> <args…>} as its own process. */
    public static ExecResult gc(Path store, String... args) {
        return command("gc", store, args);
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

    public static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException("no free port: " + e.getMessage(), e);
        }
    }

    private static boolean portFree(int port) {
        try (ServerSocket socket = new ServerSocket(port)) {
            socket.setReuseAddress(true);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
