package dev.kiln.builder.sandbox;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/** Starts a sandbox process, streams its output, enforces timeout and cancellation. */
final class ProcessRunner {
    static final String HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /** The last bytes written to stderr, for setup diagnostics. */
    static final class Tail extends OutputStream {
        private final OutputStream out;
        private final ByteArrayOutputStream tail = new ByteArrayOutputStream();

        Tail(OutputStream out) {
            this.out = out;
        }

        @Override
        public synchronized void write(int b) throws IOException {
            out.write(b);
            tail.write(b);
            trim();
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            tail.write(b, off, len);
            trim();
        }

        private void trim() {
            if (tail.size() > 8192) {
                byte[] all = tail.toByteArray();
                tail.reset();
                tail.write(all, all.length - 4096, 4096);
            }
        }

        synchronized String text() {
            return tail.toString(StandardCharsets.UTF_8).strip();
        }
    }

    record Outcome(int exitCode, Duration duration, boolean timedOut, boolean cancelled) {
        ExecResult result() {
            return new ExecResult(exitCode, duration, timedOut, cancelled);
        }
    }

    private ProcessRunner() {
    }

    /**
     * Runs {@code command} with exactly {@code env} in {@code cwd} and waits. Thread interruption
     * kills the process tree and is re-raised.
     */
    static Outcome run(List<String> command, Map<String, String> env, Path cwd, OutputStream stdout,
                       OutputStream stderr, Duration timeout, Cancellation cancellation)
            throws IOException, InterruptedException {
        return run(command, env, cwd, stdout, stderr, timeout, cancellation, null);
    }

    /** A step to take right after the process started; it is killed when the step fails. */
    interface Started {
        void accept(Process process) throws IOException, InterruptedException;
    }

    static Outcome run(List<String> command, Map<String, String> env, Path cwd, OutputStream stdout,
                       OutputStream stderr, Duration timeout, Cancellation cancellation, Started started)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().clear();
        pb.environment().putAll(env);
        if (cwd != null) {
            pb.directory(cwd.toFile());
        }
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        long start = System.nanoTime();
        Process process = pb.start();
        if (started != null) {
            try {
                started.accept(process);
            } catch (IOException | InterruptedException | RuntimeException e) {
                killTree(process);
                process.waitFor(10, TimeUnit.SECONDS);
                throw e;
            }
        }
        Thread out = pump(process.getInputStream(), stdout, "sandbox-stdout");
        Thread err = pump(process.getErrorStream(), stderr, "sandbox-stderr");
        AtomicBoolean cancelled = new AtomicBoolean();
        Runnable onCancel = () -> {
            cancelled.set(true);
            killTree(process);
        };
        if (cancellation != null) {
            cancellation.onCancel(onCancel);
        }
        boolean timedOut = false;
        try {
            if (timeout != null) {
                if (!process.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                    timedOut = true;
                    killTree(process);
                }
            }
            process.waitFor();
        } catch (InterruptedException e) {
            killTree(process);
            process.waitFor(10, TimeUnit.SECONDS);
            throw e;
        } finally {
            if (cancellation != null) {
                cancellation.remove(onCancel);
            }
            out.join(5000);
            err.join(5000);
            finish(stdout);
            finish(stderr);
        }
        Duration duration = Duration.ofNanos(System.nanoTime() - start);
        return new Outcome(process.exitValue(), duration, timedOut, cancelled.get());
    }

    /** SIGKILL to every descendant, children of the root first (a pid namespace's init takes the rest). */
    static void killTree(Process process) {
        for (int round = 0; round < 3; round++) {
            List<ProcessHandle> all = process.descendants().toList();
            all.forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            if (all.isEmpty()) {
                return;
            }
        }
    }

    private static void finish(OutputStream out) {
        try {
            if (out instanceof LineSink sink) {
                sink.close();
            } else if (out instanceof Tail tail && tail.out instanceof LineSink sink) {
                sink.close();
            } else {
                out.flush();
            }
        } catch (IOException e) {
            // the sink's problem, not the run's
        }
    }

    private static Thread pump(InputStream in, OutputStream out, String name) {
        Thread t = new Thread(() -> {
            byte[] buffer = new byte[8192];
            try (in) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // process gone
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * Where a self-contained Kiln keeps the tools it runs (system property, set by its launcher).
     * In place, {@code /usr/bin} is the image's, whose libraries may not even load.
     */
    static final String TOOLS_PROPERTY = "dev.kiln.tools";

    /**
     * Kiln's own tools first, then the host's standard path: the PATH of every host-side helper
     * process. In Kiln's image there is no {@code /bin} at all; everything is in {@code /kiln/bin}.
     */
    static String toolPath() {
        String tools = System.getProperty(TOOLS_PROPERTY);
        return tools == null || tools.isEmpty() ? HOST_PATH : tools + ":" + HOST_PATH;
    }

    /** The shell that runs Kiln's own set-up scripts (never the image's). */
    static String hostShell() {
        String sh = hostTool("sh");
        return sh != null ? sh : "/bin/sh";
    }

    /** The first executable named {@code name} in Kiln's own tools, then on the host's standard path, or null. */
    static String hostTool(String name) {
        for (String dir : toolPath().split(":")) {
            Path p = Path.of(dir, name);
            if (java.nio.file.Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** The effective uid of this JVM. */
    static long currentUid() {
        try {
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return Long.parseLong(line.substring(4).trim().split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return "root".equals(System.getProperty("user.name")) ? 0 : 65534;
    }
}
