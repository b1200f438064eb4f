package dev.kiln.builder.egress;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An HTTP forward proxy ({@code GET http://…} and {@code CONNECT host:port}) that resolves every
 * destination itself, checks the address against {@link EgressRules} and connects to exactly that
 * address. A refusal is {@code 403} with a one-line body naming the rule. One thread per
 * connection: a RUN opens a handful.
 */
public final class EgressProxy implements AutoCloseable {

    /** Name resolution, replaceable in tests (a name that resolves differently each time). */
    public interface Resolver {
        InetAddress[] resolve(String host) throws UnknownHostException;
    }

    static final int MAX_HEAD_BYTES = 64 * 1024;
    static final int CONNECT_TIMEOUT_MS = 15_000;

    private final ServerSocketChannel server;
    private final SocketAddress listen;
    private final EgressRules rules;
    private final Resolver resolver;
    private final Set<AutoCloseable> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private EgressProxy(ServerSocketChannel server, SocketAddress listen, EgressRules rules, Resolver resolver) {
        this.server = server;
        this.listen = listen;
        this.rules = rules;
        this.resolver = resolver;
    }

    /** A proxy on a unix socket at {@code path} (the relay into a RUN's network namespace connects there). */
    public static EgressProxy onUnixSocket(java.nio.file.Path path, EgressRules rules) throws IOException {
        return start(UnixDomainSocketAddress.of(path), StandardProtocolFamily.UNIX, rules, InetAddress::getAllByName);
    }

    /** A proxy on {@code listen}, which may be a unix socket or a TCP address. */
    public static EgressProxy start(SocketAddress listen, ProtocolFamily family, EgressRules rules, Resolver resolver)
            throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open(family);
        try {
            server.bind(listen);
        } catch (IOException e) {
            server.close();
            throw e;
        }
        EgressProxy proxy = new EgressProxy(server, server.getLocalAddress(), rules, resolver);
        Thread t = new Thread(proxy::acceptLoop, "egress-proxy");
        t.setDaemon(true);
        t.start();
        return proxy;
    }

    public SocketAddress address() throws IOException {
        return server.getLocalAddress();
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            open.add(client);
            Thread t = new Thread(() -> {
                try {
                    handle(client);
                } finally {
                    closeQuietly(client);
                    open.remove(client);
                }
            }, "egress-proxy-connection");
            t.setDaemon(true);
            t.start();
        }
    }

    private void handle(SocketChannel client) {
        OutputStream toClient = new ChannelOut(client);
        InputStream fromClient = new ChannelIn(client);
        Head head;
        try {
            head = Head.read(fromClient);
        } catch (IOException e) {
            answer(toClient, 400, "Bad Request", "kiln egress proxy: " + e.getMessage());
            return;
        }
        if (head == null) {
            return;
        }
        Target target;
        try {
            target = Target.of(head);
        } catch (IllegalArgumentException e) {
            answer(toClient, 400, "Bad Request", "kiln egress proxy: " + e.getMessage());
            return;
        }
        InetAddress[] addresses;
        try {
            addresses = resolver.resolve(target.host);
        } catch (UnknownHostException e) {
            answer(toClient, 502, "Bad Gateway", "kiln egress proxy: cannot resolve " + target.host);
            return;
        }
        // the addresses checked are the ones connected to: resolved once, never again
        InetAddress chosen = null;
        String refusal = null;
        for (InetAddress a : addresses) {
            Optional<String> why = rules.refusal(target.host, a);
            if (why.isEmpty()) {
                chosen = a;
                break;
            }
            if (refusal == null) {
                String shown = Cidr.format(a);
                refusal = target.host + (target.host.equalsIgnoreCase(shown) ? "" : " (" + shown + ")")
                        + " is " + why.get();
            }
        }
        if (chosen == null) {
            answer(toClient, 403, "Forbidden", "kiln egress proxy: refused " + (refusal != null ? refusal
                    : target.host + ": no address") + "; a RUN may reach only public addresses and what the operator "
                    + "allows (kiln.builds.egress.allow, kiln build --egress-allow)");
            return;
        }
        Socket upstream = new Socket();
        open.add(upstream);
        try (upstream) {
            try {
                upstream.connect(new InetSocketAddress(chosen, target.port), CONNECT_TIMEOUT_MS);
            } catch (IOException e) {
                answer(toClient, 502, "Bad Gateway", "kiln egress proxy: cannot connect to " + target.host + ":"
                        + target.port + ": " + e.getMessage());
                return;
            }
            OutputStream toUpstream = upstream.getOutputStream();
            if (head.method.equals("CONNECT")) {
                toClient.write("HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            } else {
                toUpstream.write(head.forwarded(target.path));
            }
            toUpstream.write(head.rest);
            toUpstream.flush();
            relay(fromClient, toUpstream, upstream, upstream.getInputStream(), toClient, client);
        } catch (IOException e) {
            // either side went away
        } finally {
            open.remove(upstream);
        }
    }

    /** Client to upstream on a thread of its own, upstream to client here, until the upstream is done. */
    private static void relay(InputStream fromClient, OutputStream toUpstream, Socket upstream, InputStream fromUpstream,
                              OutputStream toClient, SocketChannel client) throws IOException {
        Thread up = new Thread(() -> {
            try {
                fromClient.transferTo(toUpstream);
                upstream.shutdownOutput();
            } catch (IOException e) {
                // closed below
            }
        }, "egress-proxy-up");
        up.setDaemon(true);
        up.start();
        try {
            fromUpstream.transferTo(toClient);
            client.shutdownOutput();
        } finally {
            try {
                up.join(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void answer(OutputStream out, int status, String reason, String body) {
        byte[] b = (body + "\n").getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: " + b.length + "\r\nConnection: close\r\n\r\n";
        try {
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            out.write(b);
            out.flush();
        } catch (IOException e) {
            // the client is gone
        }
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(server);
        for (AutoCloseable c : open) {
            closeQuietly(c);
        }
        if (listen instanceof UnixDomainSocketAddress unix) {
            try {
                java.nio.file.Files.deleteIfExists(unix.getPath());
            } catch (IOException e) {
                // the scratch directory goes anyway
            }
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            // closing
        }
    }

    /** The request line, the header lines and whatever of the body arrived with them. */
    record Head(String method, String target, String version, List<String> headers, byte[] rest) {

        /** Null when the client closed without a request. */
        static Head read(InputStream in) throws IOException {
            byte[] buf = new byte[8192];
            int n = 0;
            int end;
            while ((end = headEnd(buf, n)) < 0) {
                if (n == buf.length) {
                    if (buf.length >= MAX_HEAD_BYTES) {
                        throw new IOException("request head over " + MAX_HEAD_BYTES + " bytes");
                    }
                    buf = java.util.Arrays.copyOf(buf, buf.length * 2);
                }
                int r = in.read(buf, n, buf.length - n);
                if (r < 0) {
                    if (n == 0) {
                        return null;
                    }
                    throw new IOException("request head cut off");
                }
                n += r;
            }
            String text = new String(buf, 0, end, StandardCharsets.ISO_8859_1);
            String[] lines = text.split("\r\n");
            String[] first = lines[0].split(" ");
            if (first.length != 3 || !first[2].startsWith("HTTP/")) {
                throw new IOException("not an HTTP request line: " + lines[0]);
            }
            List<String> headers = new ArrayList<>(List.of(lines).subList(1, lines.length));
            return new Head(first[0].toUpperCase(Locale.ROOT), first[1], first[2], headers,
                    java.util.Arrays.copyOfRange(buf, end + 4, n));
        }

        private static int headEnd(byte[] b, int n) {
            for (int i = 0; i + 3 < n; i++) {
                if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
                    return i;
                }
            }
            return -1;
        }

        /**
         * The request as the origin server gets it: origin-form target, no proxy headers, and
         * {@code Connection: close}, so one client connection never carries a second request to
         * a host that was not checked.
         */
        byte[] forwarded(String path) {
            StringBuilder s = new StringBuilder(method).append(' ').append(path).append(' ').append(version).append("\r\n");
            for (String h : headers) {
                String name = h.contains(":") ? h.substring(0, h.indexOf(':')).strip().toLowerCase(Locale.ROOT) : "";
                if (!HOP_BY_HOP.contains(name)) {
                    s.append(h).append("\r\n");
                }
            }
            s.append("Connection: close\r\n\r\n");
            return s.toString().getBytes(StandardCharsets.ISO_8859_1);
        }

        private static final Set<String> HOP_BY_HOP = Set.of("connection", "proxy-connection", "keep-alive",
                "proxy-authorization", "proxy-authenticate", "te", "upgrade");
    }

    /** Where a request goes: host (no brackets), port, and for plain HTTP the origin-form path. */
    record Target(String host, int port, String path) {
        static Target of(Head head) {
            if (head.method.equals("CONNECT")) {
                String t = head.target;
                int colon = t.lastIndexOf(':');
                if (colon <= 0) {
                    throw new IllegalArgumentException("CONNECT needs host:port, not " + t);
                }
                String host = t.substring(0, colon);
                if (host.startsWith("[") && host.endsWith("]")) {
                    host = host.substring(1, host.length() - 1);
                }
                return new Target(host, port(t.substring(colon + 1)), null);
            }
            URI uri;
            try {
                uri = new URI(head.target);
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("not a URL: " + head.target);
            }
            if (uri.getScheme() == null || !uri.getScheme().equalsIgnoreCase("http") || uri.getHost() == null) {
                throw new IllegalArgumentException("only http:// URLs and CONNECT (for https) go through this proxy, not "
                        + head.target);
            }
            String host = uri.getHost();
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            String path = (uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
                    + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
            return new Target(host, uri.getPort() < 0 ? 80 : uri.getPort(), path);
        }

        private static int port(String s) {
            try {
                int p = Integer.parseInt(s);
                if (p > 0 && p < 65536) {
                    return p;
                }
            } catch (NumberFormatException e) {
                // below
            }
            throw new IllegalArgumentException("bad port " + s);
        }
    }

    /** Reads of a blocking channel; unlike Channels.newInputStream it takes no lock a concurrent write waits on. */
    private static final class ChannelIn extends InputStream {
        private final SocketChannel ch;

        ChannelIn(SocketChannel ch) {
            this.ch = ch;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return ch.read(ByteBuffer.wrap(b, off, len));
            } catch (ClosedChannelException e) {
                return -1;
            }
        }
    }

    private static final class ChannelOut extends OutputStream {
        private final SocketChannel ch;

        ChannelOut(SocketChannel ch) {
            this.ch = ch;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            ByteBuffer buf = ByteBuffer.wrap(b, off, len);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        }
    }
}
