package dev.kiln.testkit;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP server on one address that answers every request with the same text and counts them:
 * a stand-in for a package mirror, a metadata endpoint or a host-only service in network tests.
 */
public final class TextServer implements AutoCloseable {
    private final HttpServer http;
    private final AtomicInteger hits = new AtomicInteger();

    public TextServer(InetAddress address, String body) throws IOException {
        http = HttpServer.create(new InetSocketAddress(address, 0), 16);
        http.createContext("/", exchange -> {
            hits.incrementAndGet();
            StandIns.send(exchange, 200, body);
        });
        http.start();
    }

    public int port() {
        return http.getAddress().getPort();
    }

    public InetAddress address() {
        return http.getAddress().getAddress();
    }

    /** {@code http://address:port/}. */
    public String url() {
        InetAddress a = address();
        String host = a instanceof Inet4Address ? a.getHostAddress() : "[" + a.getHostAddress() + "]";
        return "http://" + host + ":" + port() + "/";
    }

    /** How many requests reached it. */
    public int hits() {
        return hits.get();
    }

    @Override
    public void close() {
        http.stop(0);
    }
}
