package dev.kiln.testkit;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Finds the external programs the tests drive and runs them with a deadline: the kit's one process runner. */
public final class Tools {
    /** Reference tools on big trees: minutes on a loaded machine, never hours. */
    private static final long REFERENCE_TOOL_SECONDS = 600;

    private Tools() {
    }

    /**
     * The path of {@code program} on PATH (or {@code program} itself when absolute); fails the test,
     * naming the Debian package to install, when it is missing. Never skips: a missing tool is a broken setup.
     */
    public static Path require(String program, String debianPackage) {
        Path found = null;
        if (program.startsWith("/")) {
            found = Path.of(program);
        } else {
            for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
                Path candidate = Path.of(dir, program);
                if (Files.isExecutable(candidate)) {
                    found = candidate;
                    break;
                }
            }
        }
        if (found == null || !Files.isExecutable(found)) {
            fail(program + " is not installed: install the Debian package '" + debianPackage
                    + "' (scripts/install-test-deps does it; ./run-tests runs that script as root)");
        }
        return found;
    }

    public static boolean isRoot() {
        try {
            Process p = new ProcessBuilder("id", "-u").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.waitFor() == 0 && out.equals("0");
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Runs a command to its end (or kills it after {@code timeoutSeconds}) and returns exit code and output. */
    public static ExecResult run(List<String> command, Map<String, String> env, long timeoutSeconds) {
        return run(null, command, env, timeoutSeconds);
    }

    /** {@code command} with a two-minute deadline, for quick tools; {@link ExecResult#requireSuccess()} when it must work. */
    public static ExecResult run(String... command) {
        return run(List.of(command), Map.of(), 120);
    }

    /**
     * Runs {@code command} in {@code dir} (the test JVM's own when null) with {@code env} added to this
     * process's environment, stdin from /dev/null; kills it and fails the test after {@code timeoutSeconds}.
     */
    public static ExecResult run(Path dir, List<String> command, Map<String, String> env, long timeoutSeconds) {
        Path out = null;
        Path err = null;
        try {
            // files, not pipes: a chatty tool cannot block on a full pipe nobody reads
            out = Files.createTempFile("kiln-it-exec", ".out");
            err = Files.createTempFile("kiln-it-exec", ".err");
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            if (dir != null) {
                builder.directory(dir.toFile());
            }
            builder.environment().putAll(env);
            Process process = builder.start();
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                fail("timed out after " + timeoutSeconds + " s: " + String.join(" ", command) + "\n"
                        + new ExecResult(command, -1, Files.readAllBytes(out), new String(Files.readAllBytes(err), StandardCharsets.UTF_8)).output());
            }
            return new ExecResult(command, process.exitValue(), Files.readAllBytes(out),
                    new String(Files.readAllBytes(err), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + command + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + command, e);
        } finally {
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    /** Runs {@code command} in {@code dir} and returns its stdout; a non-zero exit fails the test with its output. */
    public static String runIn(Path dir, List<String> command) {
        return run(dir, command, Map.of(), REFERENCE_TOOL_SECONDS).requireSuccess().stdout();
    }

    /** Runs a shell command line (reference tools: GNU tar, gzip, zstd…), returning stdout; a non-zero exit fails the test. */
    public static String sh(String commandLine) {
        return runIn(null, List.of("/bin/sh", "-c", commandLine));
    }

    /** The hex sha256 of a file, by sha256sum(1). */
    public static String sha256sum(Path file) {
        return sh("sha256sum '" + file + "'").split("\\s+")[0];
    }

    private static void deleteQuietly(Path file) {
        if (file != null) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // a temp file; the OS cleans /tmp
            }
        }
    }
}
