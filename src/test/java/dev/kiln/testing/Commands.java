package dev.kiln.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/** Runs reference tools (GNU tar, gzip, zstd, sha256sum) so tests can check Kiln against them. */
public final class Commands {
    private Commands() {
    }

    /** Runs a shell command line, returning stdout; a non-zero exit fails with stderr. */
    public static String sh(String commandLine) {
        return run(Path.of("."), List.of("/bin/sh", "-c", commandLine));
    }

    public static String run(Path dir, List<String> command) {
        try {
            Process process = new ProcessBuilder(command).directory(dir.toFile()).start();
            process.getOutputStream().close();
            // stderr drains on its own thread so a chatty tool cannot block on a full pipe
            var err = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return process.getErrorStream().readAllBytes();
                } catch (IOException e) {
                    return new byte[0];
                }
            });
            byte[] out = process.getInputStream().readAllBytes();
            int exit = process.waitFor();
            if (exit != 0) {
                throw new AssertionError(command + " exited " + exit + ": " + new String(err.join(), StandardCharsets.UTF_8));
            }
            return new String(out, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AssertionError("could not run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** The hex sha256 of a file, by sha256sum(1). */
    public static String sha256sum(Path file) {
        return sh("sha256sum '" + file + "'").split("\\s+")[0];
    }

    public static boolean isRoot() {
        return sh("id -u").trim().equals("0");
    }
}
