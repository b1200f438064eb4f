package dev.kiln.app.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.LogWatch;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.function.BooleanSupplier;

/**
 * Copies a build pod's log into the build's log as it is written. The log is read with
 * timestamps; when the stream ends while the container still runs (a dropped connection, an API
 * server restart) it is opened again from the last line's second and the lines already copied are
 * skipped by their timestamp. That position is kept in a file too, so a gateway that restarts
 * mid-build goes on where it was instead of copying the log twice.
 */
final class PodLogFollower implements Runnable {
    private static final long RETRY_MILLIS = 1000;
    private static final long SAVE_EVERY_MILLIS = 1000;

    private final KubernetesClient client;
    private final String namespace;
    private final String pod;
    private final PrintStream out;
    private final Path positionFile;
    private final BooleanSupplier containerEnded;
    private volatile boolean stopped;
    private volatile LogWatch current;
    private Instant last;
    private long savedAt;

    /**
     * @param positionFile   where the last copied line's time is kept across gateway restarts
     * @param containerEnded whether the executor container has terminated, so that the end of the stream is the end of the log
     */
    PodLogFollower(KubernetesClient client, String namespace, String pod, PrintStream out, Path positionFile,
                   BooleanSupplier containerEnded) {
        this.client = client;
        this.namespace = namespace;
        this.pod = pod;
        this.out = out;
        this.positionFile = positionFile;
        this.containerEnded = containerEnded;
        this.last = readPosition(positionFile);
    }

    @Override
    public void run() {
        try {
            while (!stopped) {
                boolean ended = containerEnded.getAsBoolean(); // read before the stream: lines written after it are in this stream
                try {
                    copyOnce();
                } catch (IOException | RuntimeException e) {
                    if (stopped) {
                        return;
                    }
                    out.println("warning: reading the log of pod " + pod + ": " + e.getMessage() + "; trying again");
                }
                if (ended) {
                    return;
                }
                sleep();
            }
        } finally {
            savePosition();
        }
    }

    /** Stops following; the stream in progress is closed. */
    void stop() {
        stopped = true;
        LogWatch watch = current;
        if (watch != null) {
            watch.close();
        }
    }

    private void copyOnce() throws IOException {
        var container = client.pods().inNamespace(namespace).withName(pod).inContainer(BuildJobSpec.CONTAINER).usingTimestamps();
        Instant since = last;
        try (LogWatch watch = since == null ? container.watchLog() : container.sinceTime(since.toString()).watchLog()) {
            current = watch;
            if (stopped) {
                return;
            }
            BufferedReader reader = new BufferedReader(new InputStreamReader(watch.getOutput(), StandardCharsets.UTF_8));
            boolean skipping = since != null;
            for (String line; (line = reader.readLine()) != null; ) {
                int space = line.indexOf(' ');
                Instant time = space > 0 ? time(line.substring(0, space)) : null;
                if (time == null) {
                    out.println(line);
                    continue;
                }
                if (skipping && !time.isAfter(since)) {
                    continue; // copied before the stream was opened again
                }
                skipping = false;
                out.println(line.substring(space + 1));
                last = time;
                if (System.currentTimeMillis() - savedAt >= SAVE_EVERY_MILLIS) {
                    savePosition();
                }
            }
        } finally {
            current = null;
        }
    }

    private static Instant time(String text) {
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    private void savePosition() {
        savedAt = System.currentTimeMillis();
        if (last == null || positionFile == null) {
            return;
        }
        try {
            Files.createDirectories(positionFile.getParent());
            Files.writeString(positionFile, last.toString());
        } catch (IOException e) {
            // a restarted gateway then copies some lines twice: not worth failing the build for
        }
    }

    private static Instant readPosition(Path file) {
        try {
            return file != null && Files.exists(file) ? Instant.parse(Files.readString(file).trim()) : null;
        } catch (IOException | DateTimeParseException e) {
            return null;
        }
    }

    private void sleep() {
        try {
            Thread.sleep(RETRY_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped = true;
        }
    }
}
