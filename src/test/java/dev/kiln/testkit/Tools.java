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

/** Finds the external programs the tests drive and runs them with a timeout. */
public final class Tools {
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
        Path out = null;
        Path err = null;
        try {
            out = Files.createTempFile("kiln-it-exec", ".out");
            err = Files.createTempFile("kiln-it-exec", ".err");
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            builder.environment().putAll(env);
            Process process = builder.start();
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                fail("timed out after " + timeoutSeconds + " s: " + String.join(" ", command) + "\n"
                        + new ExecResult(-1, Files.readAllBytes(out), new String(Files.readAllBytes(err), StandardCharsets.UTF_8)).output());
            }
            return new ExecResult(process.exitValue(), Files.readAllBytes(out),
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
