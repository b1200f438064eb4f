package dev.kiln.builder.egress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.testkit.TextServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The proxy against real servers: one on a non-loopback address of this machine (which the tests
 * declare private or allowed, since a test can only run local servers), one on loopback.
 */
class EgressProxyTest {
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
    }

    @Test
    void anAddressOutsideTheDeniedRangesIsFetched() throws Exception {
        TextServer remote = server(outsideAddress(), "remote");
        // whatever range this machine's address is in, rules without it let it through
        EgressProxy open = proxy(new EgressRules(List.of(), List.of(), List.of()), InetAddress::getAllByName);
        assertEquals("200 remote", get(open, remote.url()));
        assertEquals(1, remote.hits());
    }

    @Test
    void aPrivateRangeIsRefusedUnlessTheOperatorAllowsTheAddress() throws Exception {
        InetAddress address = outsideAddress();
        TextServer remote = server(address, "mirror");
        List<EgressRules.Denied> denied = new ArrayList<>(EgressRules.PRIVATE_RANGES);
        denied.add(new EgressRules.Denied(Cidr.parse(address.getHostAddress() + "/32"), "private (test)"));
        EgressRules rules = new EgressRules(denied, List.of(), List.of());

        String refused = get(proxy(rules, InetAddress::getAllByName), remote.url());
        assertTrue(refused.startsWith("403 kiln egress proxy: refused " + address.getHostAddress() + " is "), refused);
        assertTrue(refused.contains("private"), refused);
        assertEquals(0, remote.hits(), "a refused request never reaches the server");

        String allowed = get(proxy(rules.withAllowed(List.of(address.getHostAddress() + "/32")), InetAddress::getAllByName),
                remote.url());
        assertEquals("200 mirror", allowed);
        assertEquals(1, remote.hits());
    }

    @Test
    void loopbackAndMetadataAreRefusedWithTheRuleNamed() throws Exception {
        TextServer local = server(InetAddress.getLoopbackAddress(), "secret");
        EgressProxy proxy = proxy(EgressRules.DEFAULT, InetAddress::getAllByName);
        String loopback = get(proxy, local.url());
        assertTrue(loopback.startsWith("403 ") && loopback.contains("loopback 127.0.0.0/8"), loopback);
        String byName = get(proxy, "http://localhost:" + local.port() + "/");
        assertTrue(byName.startsWith("403 ") && byName.contains("loopback"), byName);
        String metadata = get(proxy, "http://169.254.169.254/latest/meta-data/");
        assertTrue(metadata.startsWith("403 ") && metadata.contains("link-local (cloud metadata)"), metadata);
        String v6 = get(proxy, "http://[::1]:" + local.port() + "/");
        assertTrue(v6.startsWith("403 ") && v6.contains("loopback ::1/128"), v6);
        assertEquals(0, local.hits());
    }

    @Test
    void connectToALoopbackPortIsRefusedAndToAnAllowedOneTunnels() throws Exception {
        TextServer local = server(InetAddress.getLoopbackAddress(), "secret");
        InetAddress address = outsideAddress();
        TextServer remote = server(address, "tunnelled");
        EgressProxy proxy = proxy(EgressRules.DEFAULT.withAllowed(List.of(address.getHostAddress())),
                InetAddress::getAllByName);

        String refused = connect(proxy, "127.0.0.1:" + local.port(), null);
        assertTrue(refused.startsWith("HTTP/1.1 403 ") && refused.contains("loopback"), refused);
        assertEquals(0, local.hits());

        String tunnelled = connect(proxy, address.getHostAddress() + ":" + remote.port(),
                "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertTrue(tunnelled.startsWith("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200"), tunnelled);
        assertTrue(tunnelled.endsWith("tunnelled"), tunnelled);
    }

    @Test
    void aNameResolvingToAPrivateAddressIsRefusedAndResolvedOnlyOnce() throws Exception {
        TextServer local = server(InetAddress.getLoopbackAddress(), "secret");
        InetAddress address = outsideAddress();
        TextServer remote = server(address, "first answer");
        EgressProxy privateName = proxy(EgressRules.DEFAULT, host -> new InetAddress[] {InetAddress.getLoopbackAddress()});
        String refused = get(privateName, "http://internal.test:" + local.port() + "/");
        assertTrue(refused.startsWith("403 kiln egress proxy: refused internal.test (127.0.0.1) is loopback"), refused);

        // rebinding: the first answer passes the check, every later one points at loopback
        AtomicInteger lookups = new AtomicInteger();
        EgressProxy rebinding = proxy(EgressRules.DEFAULT.withAllowed(List.of(address.getHostAddress())), host ->
                new InetAddress[] {lookups.getAndIncrement() == 0 ? address : InetAddress.getLoopbackAddress()});
        String answer = get(rebinding, "http://rebind.test:" + remote.port() + "/");
        assertEquals("200 first answer", answer);
        assertEquals(1, lookups.get(), "resolved once");
        assertEquals(0, local.hits());
    }

    @Test
    void badRequestsGetAClearAnswer() throws Exception {
        EgressProxy proxy = proxy(EgressRules.DEFAULT, InetAddress::getAllByName);
        String https = get(proxy, "https://localhost/");
        assertTrue(https.startsWith("400 ") && https.contains("CONNECT"), https);
        String port = connect(proxy, "localhost", null);
        assertTrue(port.startsWith("HTTP/1.1 400 ") && port.contains("host:port"), port);
    }

    // ---

    private EgressProxy proxy(EgressRules rules, EgressProxy.Resolver resolver) throws IOException {
        EgressProxy p = EgressProxy.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                StandardProtocolFamily.INET, rules, resolver);
        closing.add(p);
        return p;
    }

    private TextServer server(InetAddress address, String body) throws IOException {
        TextServer server = new TextServer(address, body);
        closing.add(server);
        return server;
    }

    static InetAddress outsideAddress() {
        InetAddress a = dev.kiln.testkit.Ports.outsideAddress();
        assumeTrue(a != null, "this machine has no non-loopback IPv4 address");
        return a;
    }

    /** A proxied GET: "status body". */
    private static String get(EgressProxy proxy, String url) throws IOException {
        String raw = exchange(proxy, "GET " + url + " HTTP/1.1\r\nHost: x\r\nProxy-Connection: keep-alive\r\n\r\n");
        int space = raw.indexOf(' ');
        String status = raw.substring(space + 1, space + 4);
        return status + " " + raw.substring(raw.indexOf("\r\n\r\n") + 4).strip();
    }

    private static String connect(EgressProxy proxy, String target, String then) throws IOException {
        String request = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n" + (then == null ? "" : then);
        return exchange(proxy, request).strip();
    }

    private static String exchange(EgressProxy proxy, String request) throws IOException {
        InetSocketAddress at = (InetSocketAddress) proxy.address();
        try (Socket s = new Socket(at.getAddress(), at.getPort())) {
            s.setSoTimeout(30_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
