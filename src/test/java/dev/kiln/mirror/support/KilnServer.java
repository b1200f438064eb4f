package dev.kiln.mirror.support;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Poll;
import dev.kiln.testkit.Ports;
import dev.kiln.testkit.Slowness;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The packaged Kiln jar ({@code -Dkiln.jar}) running {@code serve} on a free port with its own store. */
public final class KilnServer implements AutoCloseable {
    private final Process process;
    private final int port;
    private final Path store;
    private final Path log;
    private final HttpClient http = HttpClient.newHttpClient();

    private KilnServer(Process process, int port, Path store, Path log) {
        this.process = process;
        this.port = port;
        this.store = store;
        this.log = log;
    }

    public static Path jar() {
        String jar = System.getProperty("kiln.jar");
        if (jar == null || !Files.isRegularFile(Path.of(jar))) {
            throw new IllegalStateException("system property kiln.jar must name the packaged quarkus-run.jar (run through failsafe); got " + jar);
        }
        return Path.of(jar);
    }

    /**
     * Starts {@code serve --port P --store DIR/store} with {@code serveArgs}; {@code systemProperties}
     * go before {@code -jar} (e.g. per-upstream credentials and timeouts).
     */
    public static KilnServer start(Path dir, List<String> systemProperties, String... serveArgs) throws IOException {
        Files.createDirectories(dir);
        int port = Ports.freePort();
        Path store = dir.resolve("store");
        Path log = dir.resolve("kiln.log");
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m"));
        systemProperties.forEach(p -> command.add("-D" + p));
        command.addAll(List.of("-jar", jar().toString(), "serve", "--port", Integer.toString(port), "--store", store.toString()));
        command.addAll(List.of(serveArgs));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        KilnServer kiln = new KilnServer(process, port, store, log);
        Runtime.getRuntime().addShutdownHook(new Thread(process::destroyForcibly)); // if the test JVM is stopped early
        Duration timeout = Slowness.scale(Duration.ofSeconds(60));
        String scaling = Slowness.describe();
        long started = System.nanoTime();
        boolean up = Poll.until(timeout, () -> !process.isAlive() || kiln.ready());
        if (!up || !process.isAlive()) {
            if (process.isAlive()) {
                Slowness.requestThreadDump(process.pid());
            }
            String output = Slowness.tail(Files.readString(log), 400);
            kiln.close();
            throw new IllegalStateException("kiln did not answer GET /v2/ within " + timeout.toSeconds() + " s (" + scaling
                    + (process.isAlive() ? "" : "; it exited with " + process.exitValue()) + "): " + command + "\nits log " + log
                    + (up ? "" : " with a thread dump") + ":\n" + output);
        }
        Slowness.startedIn(Duration.ofNanos(System.nanoTime() - started));
        return kiln;
    }

    private boolean ready() {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(url() + "/v2/")).timeout(Slowness.scale(Duration.ofSeconds(2))).build(),
                            HttpResponse.BodyHandlers.discarding())
                    .statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    public int port() {
        return port;
    }

    public String host() {
        return "127.0.0.1:" + port;
    }

    public String url() {
        return "http://" + host();
    }

    public Path store() {
        return store;
    }

    /** The last 80 lines of the server's output, for failure messages. */
    public String logTail() {
        return Slowness.tail(log(), 80);
    }

    public String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Where the store keeps a blob. */
    public Path blobFile(String digest) {
        String hex = digest.substring(digest.indexOf(':') + 1);
        return store.resolve("blobs").resolve(digest.substring(0, digest.indexOf(':'))).resolve(hex.substring(0, 2)).resolve(hex);
    }

    /** Sum of the sizes of every blob in the store. */
    public long storeBytes() {
        Path blobs = store.resolve("blobs");
        if (!Files.isDirectory(blobs)) {
            return 0;
        }
        try (var files = Files.walk(blobs)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        } catch (IOException | java.io.UncheckedIOException e) {
            return -1; // a file went away while walking; callers poll
        }
    }

    /** {@code kiln fsck --store} on this server's store, run as its own process. */
    public ExecResult fsck() {
        return Tools.run(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", jar().toString(), "fsck", "--store", store.toString()), Map.of(), 60);
    }

    /** The value of one Prometheus sample on /q/metrics whose labels include {@code labels} ("k=v"); 0 when absent. */
    public double metric(String name, String... labels) {
        String text;
        try {
            text = http.send(HttpRequest.newBuilder(URI.create(url() + "/q/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
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

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
