package dev.kiln.mirror.support;

import dev.kiln.testkit.Slowness;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a command to completion with a deadline; output and errors go to one temp file. */
public final class Proc {
    private Proc() {
    }

    public record Result(List<String> command, int exit, String output) {
        public Result requireSuccess() {
            if (exit != 0) {
                throw new AssertionError(String.join(" ", command) + " exited " + exit + ":\n" + output);
            }
            return this;
        }
    }

    public static Result run(Duration timeout, Map<String, String> env, List<String> command) {
        try {
            Path log = Files.createTempFile("kiln-it-proc", ".log");
            try {
                ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
                builder.environment().putAll(env);
                Process process = builder.start();
                if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly().waitFor();
                    throw new AssertionError(String.join(" ", command) + " did not finish within " + timeout + ":\n"
                            + Files.readString(log, StandardCharsets.UTF_8));
                }
                return new Result(command, process.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
            } finally {
                Files.deleteIfExists(log);
            }
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running " + command, e);
        }
    }

    public static Result run(String... command) {
        return run(Duration.ofMinutes(2), Map.of(), List.of(command));
    }

    /** Polls {@code condition} every 50 ms until it holds or {@code timeout} passes. */
    public static boolean poll(Duration timeout, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (condition.getAsBoolean()) {
                return true;
            }
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }

    /** Waits up to 3 s for {@code actual} to equal {@code expected} (logs are written just after a response), then returns it. */
    public static <T> T settle(T expected, java.util.function.Supplier<T> actual) {
        poll(Slowness.scale(Duration.ofSeconds(3)), () -> expected.equals(actual.get()));
        return actual.get();
    }

    public static int freePort() {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
