package dev.kiln.builder.context.support;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A real {@code git daemon} on a free loopback port exporting every repository under a directory. */
public final class GitDaemon implements AutoCloseable {
    private final Process process;
    private final int port;

    private GitDaemon(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    public static GitDaemon serve(Path root) throws IOException {
        int port = freePort();
        Process process = new ProcessBuilder("git", "daemon", "--export-all", "--reuseaddr", "--base-path=" + root,
                "--listen=127.0.0.1", "--port=" + port, root.toString())
                .redirectErrorStream(true).redirectOutput(root.resolve("daemon.log").toFile()).start();
        GitDaemon daemon = new GitDaemon(process, port);
        for (int i = 0; i < 200; i++) {
            if (!process.isAlive()) {
                throw new IOException("git daemon exited: " + Files.readString(root.resolve("daemon.log")));
            }
            try (Socket ignored = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return daemon;
            } catch (IOException notYet) {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        daemon.close();
        throw new IOException("git daemon did not listen on port " + port);
    }

    /** {@code git+git://127.0.0.1:PORT/NAME}: Kiln's spelling of a git-protocol context. */
    public String context(String repository) {
        return "git+git://127.0.0.1:" + port + "/" + repository;
    }

    public int port() {
        return port;
    }

    /** Runs git in {@code dir} with a fixed identity; returns its output. */
    public static String git(Path dir, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("git", "-c", "user.name=kiln", "-c", "user.email=kiln@test",
                "-c", "init.defaultBranch=main"));
        command.addAll(List.of(args));
        return run(dir, command);
    }

    /** Runs a command in {@code dir}, failing with its output unless it exits 0 within a minute. */
    public static String run(Path dir, List<String> command) throws IOException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return out;
    }

    public static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
