package dev.kiln.registry.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.Ports;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The messages a person sees when a registry cannot be talked to: the cause and the fix, never "null". */
class NetworkFailuresTest {
    @Test
    void messagelessExceptionsGetAReason() {
        assertEquals("connection refused (nothing listens there)", NetworkFailures.reason(new IOException(new ConnectException())));
        assertEquals("unknown host", NetworkFailures.reason(new UnknownHostException()));
        assertEquals("IOException", NetworkFailures.reason(new IOException()));
    }

    @Test
    void aPlainHttpRegistryOverTlsNamesTheFlag() throws Exception {
        try (ServerSocket plain = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread server = new Thread(() -> {
                // What an HTTP server does with a TLS ClientHello: reads some bytes and answers 400 in plain text.
                try (Socket socket = plain.accept()) {
                    socket.getInputStream().read(new byte[512]);
                    socket.getOutputStream().write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
                            .getBytes(StandardCharsets.US_ASCII));
                } catch (IOException ignored) {
                    // the client gave up first
                }
            });
            server.start();
            String host = "127.0.0.1:" + plain.getLocalPort();
            RegistryClient client = new RegistryClient(RegistryEndpoint.of("registry " + host, "https://" + host)
                    .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(10)));
            UpstreamException failure = assertThrows(UpstreamException.class, () -> client.get("app", "/v2/", Map.of()));
            assertTrue(failure.getMessage().contains("plain HTTP") && failure.getMessage().contains("--insecure-registry " + host),
                    failure.getMessage());
            server.join(10_000);
        }
    }

    @Test
    void aClosedPortSaysNothingListens() throws IOException {
        int port = Ports.freePort();
        String host = "127.0.0.1:" + port;
        RegistryClient client = new RegistryClient(RegistryEndpoint.of("registry " + host, "http://" + host));
        UpstreamException failure = assertThrows(UpstreamException.class, () -> client.get("app", "/v2/", Map.of()));
        assertTrue(failure.getMessage().endsWith("is unreachable (" + host + "): connection refused (nothing listens there)"),
                failure.getMessage());
    }
}
