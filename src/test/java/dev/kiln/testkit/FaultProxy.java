package dev.kiln.testkit;

import dev.kiln.testkit.Ports;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/**
 * An HTTP/1.1 relay on plain sockets between Kiln and an upstream, one request per connection, that
 * breaks the answers to matching requests on purpose: cut bodies short, flip bytes, answer 429 or 503,
 * stall, reset the connection, or trickle bytes at a set rate.
 */
public final class FaultProxy implements AutoCloseable {
    public enum Mode {
        /** Relay faithfully. */
        PASS,
        /** Send the announced Content-Length but only half the body, then close. */
        TRUNCATE,
        /** Send the whole body with one byte in the middle flipped. */
        CORRUPT,
        /** Answer 429 with Retry-After and OCI error JSON without asking the upstream. */
        TOO_MANY_REQUESTS,
        /** Answer 503 with OCI error JSON without asking the upstream. */
        UNAVAILABLE,
        /** Send the headers and half the body, then nothing until the client gives up. */
        STALL,
        /** Send the headers and half the body, then reset the connection. */
        RESET
    }

    /** A request relayed or refused: when it arrived and when its answer was complete (System.nanoTime). */
    public record Exchange(String method, String path, int status, long bytes, long startNanos, long endNanos) {
    }

    public static final String RETRY_AFTER = "17";

    private final int targetPort;
    private final int port;
    private final List<Exchange> exchanges = new CopyOnWriteArrayList<>();
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private volatile ServerSocket server;
    private volatile Mode mode = Mode.PASS;
    private volatile Predicate<String> applies = path -> true;
    private volatile long bytesPerSecond;
    private volatile long headerDelayMillis;

    public FaultProxy(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.port = Ports.freePort();
        start();
    }

    public int port() {
        return port;
    }

    public String url() {
        return "http://127.0.0.1:" + port;
    }

    /** Breaks answers to requests whose path {@code applies} accepts; {@link Mode#PASS} clears it. */
    public void fault(Mode newMode, Predicate<String> which) {
        applies = which;
        mode = newMode;
    }

    public void clear() {
        fault(Mode.PASS, path -> true);
        throttle(0, 0);
    }

    /** Holds every answer's headers back for {@code delayMillis}, then sends its body at {@code rate} bytes/s (0: unlimited). */
    public void throttle(long rate, long delayMillis) {
        bytesPerSecond = rate;
        headerDelayMillis = delayMillis;
    }

    public List<Exchange> exchanges() {
        return List.copyOf(exchanges);
    }

    public long count(String method, Predicate<String> path) {
        return exchanges.stream().filter(e -> e.method().equals(method) && path.test(e.path())).count();
    }

    /** (Re)opens the listening socket on the same port. */
    public synchronized void start() throws IOException {
        if (server != null) {
            return;
        }
        ServerSocket socket = new ServerSocket();
        socket.setReuseAddress(true);
        socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        server = socket;
        Thread acceptor = new Thread(() -> accept(socket), "fault-proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Closes the listening socket and every open connection: the port then refuses connections. */
    public synchronized void stop() {
        if (server == null) {
            return;
        }
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        server = null;
        open.forEach(FaultProxy::closeQuietly);
    }

    @Override
    public void close() {
        stop();
    }

    private void accept(ServerSocket socket) {
        while (!socket.isClosed()) {
            try {
                Socket client = socket.accept();
                open.add(client);
                Thread thread = new Thread(() -> {
                    try {
                        handle(client);
                    } catch (IOException | InterruptedException ignored) {
                        // a broken exchange is what this proxy is for
                    } finally {
                        closeQuietly(client);
                        open.remove(client);
                    }
                }, "fault-proxy");
                thread.setDaemon(true);
                thread.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void handle(Socket client) throws IOException, InterruptedException {
        long start = System.nanoTime();
        InputStream fromClient = client.getInputStream();
        OutputStream toClient = client.getOutputStream();
        Head request = Head.read(fromClient);
        if (request == null) {
            return;
        }
        String[] line = request.first.split(" ");
        String method = line[0];
        String path = line[1].replaceFirst("\\?.*", "");
        Mode current = applies.test(path) ? mode : Mode.PASS;
        if (current == Mode.TOO_MANY_REQUESTS || current == Mode.UNAVAILABLE) {
            boolean throttled = current == Mode.TOO_MANY_REQUESTS;
            byte[] body = ("{\"errors\":[{\"code\":\"" + (throttled ? "TOOMANYREQUESTS" : "UNAVAILABLE") + "\",\"message\":\""
                    + (throttled ? "slow down" : "down for maintenance") + "\"}]}").getBytes(StandardCharsets.UTF_8);
            String head = (throttled ? "HTTP/1.1 429 Too Many Requests\r\nRetry-After: " + RETRY_AFTER + "\r\n" : "HTTP/1.1 503 Service Unavailable\r\n")
                    + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
            toClient.write(head.getBytes(StandardCharsets.ISO_8859_1));
            if (!method.equals("HEAD")) {
                toClient.write(body);
            }
            toClient.flush();
            exchanges.add(new Exchange(method, path, throttled ? 429 : 503, 0, start, System.nanoTime()));
            return;
        }
        try (Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort)) {
            open.add(upstream);
            request.headers.put("connection", "close");
            upstream.getOutputStream().write(request.bytes());
            upstream.getOutputStream().flush();
            InputStream fromUpstream = upstream.getInputStream();
            Head response = Head.read(fromUpstream);
            if (response == null) {
                return;
            }
            int status = Integer.parseInt(response.first.split(" ")[1]);
            response.headers.put("connection", "close");
            if (headerDelayMillis > 0) {
                Thread.sleep(headerDelayMillis);
            }
            toClient.write(response.bytes());
            long length = response.headers.containsKey("content-length") ? Long.parseLong(response.headers.get("content-length")) : -1;
            boolean hasBody = !method.equals("HEAD") && status != 204 && status != 304;
            long sent = 0;
            if (hasBody) {
                long cut = current == Mode.PASS || current == Mode.CORRUPT || length < 0 ? Long.MAX_VALUE : length / 2;
                long flip = current == Mode.CORRUPT && length > 0 ? length / 2 : -1;
                byte[] buffer = new byte[16 * 1024];
                long began = System.nanoTime();
                while (sent < cut) {
                    int n = fromUpstream.read(buffer, 0, (int) Math.min(buffer.length, cut - sent));
                    if (n < 0) {
                        break;
                    }
                    if (flip >= sent && flip < sent + n) {
                        buffer[(int) (flip - sent)] ^= (byte) 0xff;
                    }
                    toClient.write(buffer, 0, n);
                    sent += n;
                    long rate = bytesPerSecond;
                    if (rate > 0) {
                        long due = began + sent * 1_000_000_000L / rate;
                        long wait = due - System.nanoTime();
                        if (wait > 0) {
                            toClient.flush();
                            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                        }
                    }
                }
            }
            toClient.flush();
            if (current == Mode.STALL && hasBody) {
                client.setSoTimeout(60_000); // bounded: the client is expected to give up long before
                try {
                    while (fromClient.read() >= 0) {
                        // wait for the client to hang up
                    }
                } catch (IOException ignored) {
                    // timed out or reset
                }
            } else if (current == Mode.RESET && hasBody) {
                client.setSoLinger(true, 0); // close() now sends RST
            }
            exchanges.add(new Exchange(method, path, status, sent, start, System.nanoTime()));
        }
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // already gone
        }
    }

    /** A request or status line and headers, read byte by byte up to the blank line. */
    private static final class Head {
        final String first;
        final Map<String, String> headers = new LinkedHashMap<>();

        private Head(String first) {
            this.first = first;
        }

        static Head read(InputStream in) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            int previous = -1;
            int lineStart = 0;
            List<String> lines = new ArrayList<>();
            while (true) {
                int b;
                try {
                    b = in.read();
                } catch (SocketException e) {
                    return null;
                }
                if (b < 0) {
                    return null;
                }
                bytes.write(b);
                if (previous == '\r' && b == '\n') {
                    byte[] all = bytes.toByteArray();
                    String line = new String(all, lineStart, all.length - lineStart - 2, StandardCharsets.ISO_8859_1);
                    lineStart = all.length;
                    if (line.isEmpty()) {
                        break;
                    }
                    lines.add(line);
                }
                previous = b;
            }
            Head head = new Head(lines.get(0));
            for (String header : lines.subList(1, lines.size())) {
                int colon = header.indexOf(':');
                String name = header.substring(0, colon).trim().toLowerCase(Locale.ROOT);
                head.headers.put(name, header.substring(colon + 1).trim());
            }
            return head;
        }

        byte[] bytes() {
            StringBuilder text = new StringBuilder(first).append("\r\n");
            headers.forEach((name, value) -> text.append(name).append(": ").append(value).append("\r\n"));
            return text.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
        }
    }
}
