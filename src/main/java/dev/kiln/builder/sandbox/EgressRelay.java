package dev.kiln.builder.sandbox;

import dev.kiln.builder.egress.EgressProxy;
import dev.kiln.builder.egress.EgressRules;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The way out of a RUN that is allowed the network: its network namespace keeps loopback only,
 * and socat listens on 127.0.0.1:{@value #PORT} there (started first in a namespace of its own,
 * which root's RUN then enters, or entered into the RUN's from the host side with nsenter) and
 * relays every connection to a unix socket in the RUN's scratch
 * directory, where this JVM's {@link EgressProxy} checks and forwards it. Nothing else leaves:
 * a tool that ignores {@code HTTP_PROXY} gets no network at all, and if socat dies the RUN's
 * connections are refused, never routed around. One relay per RUN, gone with it.
 */
final class EgressRelay implements AutoCloseable {
    /** The proxy's port inside the RUN's network namespace (a namespace of its own: no clash). */
    static final int PORT = 3128;
    static final String URL = "http://127.0.0.1:" + PORT;

    private final EgressProxy proxy;
    private final Path socket;
    private Process socat;

    private EgressRelay(EgressProxy proxy, Path socket) {
        this.proxy = proxy;
        this.socket = socket;
    }

    /**
     * socat and nsenter (from {@code searchPath} only, when given: tests of a host without them),
     * or a refusal naming the package: never the host's network instead.
     */
    static List<String> requireTools(String searchPath) throws SandboxException {
        String socat = tool(searchPath, "socat");
        String nsenter = tool(searchPath, "nsenter");
        if (socat == null || nsenter == null) {
            throw new SandboxException("RUN refused: a RUN allowed the network reaches it through Kiln's egress proxy, "
                    + "which needs " + (socat == null ? "socat (Debian package socat)" : "nsenter (util-linux)")
                    + "; install it, or run the RUN without network (--network=none, kiln.builds.allow-network=false)");
        }
        return List.of(socat, nsenter);
    }

    private static String tool(String searchPath, String name) {
        if (searchPath == null) {
            return ProcessRunner.hostTool(name);
        }
        for (String dir : searchPath.split(":")) {
            if (Files.isExecutable(Path.of(dir, name))) {
                return Path.of(dir, name).toString();
            }
        }
        return null;
    }

    /** Starts the proxy on a unix socket in {@code scratch}; {@link #attach} then starts the relay. */
    static EgressRelay open(Path scratch, EgressRules rules) throws IOException {
        Path socket = scratch.resolve("egress.sock");
        return new EgressRelay(EgressProxy.onUnixSocket(socket, rules), socket);
    }

    /**
     * Root's RUN: starts socat at once, before the sandbox, in a network namespace of its own with
     * loopback up, which the RUN then enters instead of making one ({@link #namespace}); socat's
     * start-up (a dynamically linked program with OpenSSL) so overlaps the RUN's set-up instead of
     * following it. Still one namespace and one socat per RUN, gone with it.
     *
     * @return the namespace as {@code /proc/<pid>/ns/net} shows it ({@code net:[inode]}), for the
     *         set-up to check that the namespace it entered is this one and not whatever took the pid
     */
    String startInOwnNamespace(List<String> tools, String busybox, long deadlineNanos)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        String setpriv = ProcessRunner.hostTool("setpriv");
        if (setpriv != null) {
            command.addAll(List.of(setpriv, "--pdeathsig", "KILL"));
        }
        // the static busybox's unshare and shell: several times faster to start than util-linux's
        command.addAll(List.of(busybox, "unshare", "-n", busybox, "sh", "-c", "ip link set lo up && exec "
                + ProcessRunner.quote(tools.get(0)) + " -lf /dev/null " + listenAddress() + " "
                + ProcessRunner.quote("UNIX-CONNECT:" + socket)));
        socat = start(command);
        Path own = Files.readSymbolicLink(Path.of("/proc/self/ns/net"));
        Path ns = Path.of("/proc", Long.toString(socat.pid()), "ns", "net");
        while (true) {
            try {
                Path current = Files.readSymbolicLink(ns);
                if (!current.equals(own)) {
                    return current.toString();
                }
            } catch (IOException e) {
                // not there yet, or gone: the liveness check says which
            }
            if (!socat.isAlive()) {
                throw new SandboxException("the egress relay (socat in a network namespace of its own) exited with "
                        + socat.exitValue());
            }
            if (System.nanoTime() > deadlineNanos) {
                throw new SandboxException("the egress relay's network namespace did not appear");
            }
            Thread.sleep(1);
        }
    }

    /** {@code /proc/<socat>/ns/net}, the namespace {@link #startInOwnNamespace} made. */
    Path namespace() {
        return Path.of("/proc", Long.toString(socat.pid()), "ns", "net");
    }

    /**
     * Starts socat in the network namespace of {@code pid} (and its user namespace, where this
     * JVM is not root: that namespace owns the network one) and waits until it listens.
     */
    void attach(long pid, boolean enterUserNamespace, List<String> tools, long deadlineNanos)
            throws IOException, InterruptedException {
        Path ns = Path.of("/proc", Long.toString(pid), "ns");
        List<String> command = new ArrayList<>();
        String setpriv = ProcessRunner.hostTool("setpriv");
        if (setpriv != null) {
            command.addAll(List.of(setpriv, "--pdeathsig", "KILL"));
        }
        command.add(tools.get(1));
        if (enterUserNamespace) {
            command.addAll(List.of("--user=" + ns.resolve("user"), "--preserve-credentials"));
        }
        command.addAll(List.of("--net=" + ns.resolve("net"), tools.get(0), "-lf", "/dev/null", listenAddress(),
                "UNIX-CONNECT:" + socket));
        socat = start(command);
        awaitListening(deadlineNanos);
    }

    private static String listenAddress() {
        return "TCP4-LISTEN:" + PORT + ",bind=127.0.0.1,reuseaddr,fork";
    }

    private static Process start(List<String> command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().clear();
        pb.environment().put("PATH", ProcessRunner.toolPath());
        return pb.start();
    }

    /** Waits until socat listens in its namespace. */
    void awaitListening(long deadlineNanos) throws IOException, InterruptedException {
        // the socket table of the namespace socat is in: listening (state 0A) on 127.0.0.1:PORT
        String listening = String.format("0100007F:%04X 00000000:0000 0A", PORT);
        Path table = Path.of("/proc", Long.toString(socat.pid()), "net", "tcp");
        while (true) {
            if (!socat.isAlive()) {
                throw new SandboxException("the egress relay (socat in the RUN's network namespace) exited with "
                        + socat.exitValue());
            }
            try {
                if (Files.readString(table).contains(listening)) {
                    return;
                }
            } catch (IOException e) {
                // not there yet
            }
            if (System.nanoTime() > deadlineNanos) {
                throw new SandboxException("the egress relay did not start listening in the RUN's network namespace");
            }
            Thread.sleep(1);
        }
    }

    /**
     * The RUN's environment with the proxy variables set (replacing any the build gave), so
     * proxy-aware tools (apt, curl, wget, pip, npm, git over HTTP) find the only way out. They are
     * set for the RUN only: never in the image's config or the cache key.
     */
    static List<String> environment(List<String> env) {
        List<String> out = new ArrayList<>();
        for (String e : env) {
            String name = e.substring(0, e.indexOf('='));
            if (!PROXY_VARIABLES.contains(name)) {
                out.add(e);
            }
        }
        for (String name : List.of("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")) {
            out.add(name + "=" + URL);
        }
        out.add("NO_PROXY=localhost,127.0.0.1");
        out.add("no_proxy=localhost,127.0.0.1");
        return out;
    }

    private static final List<String> PROXY_VARIABLES = List.of("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
            "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "FTP_PROXY", "ftp_proxy");

    @Override
    public void close() {
        if (socat != null) {
            // its forked children each serve one connection, which ends with the RUN's processes and
            // with the proxy's side closed below; a walk of every process to find them costs milliseconds
            socat.destroyForcibly();
            try {
                socat.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        proxy.close();
    }
}
