package dev.kiln.builder.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.egress.Cidr;
import dev.kiln.builder.egress.EgressRules;
import dev.kiln.testkit.Ports;
import dev.kiln.testkit.TextServer;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A RUN allowed the network, in the namespace sandbox: it has loopback only plus Kiln's egress
 * proxy at 127.0.0.1, which refuses private and loopback destinations (docs/security.md, "An allowed
 * network goes through the egress proxy"). The "remote" server is this machine's non-loopback
 * address, which the tests declare private or allow.
 */
class EgressRunTest {
    @TempDir
    Path tmp;
    Path rootfs;
    private final List<TextServer> servers = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        Assumptions.assumeTrue(ProcessRunner.currentUid() == 0 && Sandboxes.namespacesWork(),
                "needs root and working namespaces");
        dev.kiln.testkit.Tools.require("socat", "socat");
        rootfs = TestRootfs.create(tmp);
    }

    @AfterEach
    void stop() {
        servers.forEach(TextServer::close);
    }

    private TextServer server(InetAddress address, String body) throws IOException {
        TextServer server = new TextServer(address, body);
        servers.add(server);
        return server;
    }

    private TestRootfs.Capture run(Sandbox sandbox, RunSpec.Builder b) throws Exception {
        TestRootfs.Capture c = new TestRootfs.Capture();
        ExecResult r = sandbox.run(b.stdout(c.out).stderr(c.err).build());
        assertEquals(0, r.exitCode(), () -> "stdout: " + c.out() + "\nstderr: " + c.err());
        return c;
    }

    private RunSpec.Builder proxied(String script, EgressRules rules) {
        return RunSpec.builder(rootfs, List.of("/bin/sh", "-c", script)).env(List.of("PATH=/bin"))
                .network(RunSpec.Network.PROXY).policy(SandboxPolicy.DEFAULT.withEgress(rules));
    }

    /** The test's private range: this machine's outside address, denied like RFC 1918 unless allowed. */
    private static EgressRules privateOutside(InetAddress outside) {
        List<EgressRules.Denied> denied = new ArrayList<>(EgressRules.PRIVATE_RANGES);
        denied.add(new EgressRules.Denied(Cidr.parse(outside.getHostAddress() + "/32"), "private (test)"));
        return new EgressRules(denied, List.of(), List.of());
    }

    @Test
    void anAllowedAddressIsFetchedThroughTheProxyAndAPrivateOneIsRefused() throws Exception {
        InetAddress outside = Ports.outsideAddress();
        Assumptions.assumeTrue(outside != null, "no non-loopback address here");
        TextServer mirror = server(outside, "package index");
        // busybox wget goes through http_proxy, as apt, curl and pip do
        String fetch = "wget -q -O - " + mirror.url() + " 2>&1; echo; env | grep -i _proxy= | sort";
        for (Sandbox sandbox : List.of(new NamespaceSandbox(true), new NamespaceSandbox(false))) {
            String allowed = run(sandbox, proxied(fetch, privateOutside(outside).withAllowed(List.of(outside.getHostAddress()))))
                    .out();
            assertTrue(allowed.startsWith("package index\n"), sandbox.name() + ": " + allowed);
            assertTrue(allowed.contains("HTTP_PROXY=http://127.0.0.1:" + EgressRelay.PORT + "\n")
                    && allowed.contains("https_proxy=http://127.0.0.1:" + EgressRelay.PORT + "\n")
                    && allowed.contains("NO_PROXY=localhost,127.0.0.1\n"), allowed);

            String refused = run(sandbox, proxied("wget -S -O - " + mirror.url() + " 2>&1; true", privateOutside(outside)))
                    .out();
            assertTrue(refused.contains("403"), refused);
        }
        assertEquals(2, mirror.hits(), "only the allowed fetches reached the server");
    }

    @Test
    void loopbackMetadataAndConnectToLoopbackAreRefusedAndNothingElseLeaves() throws Exception {
        TextServer local = server(InetAddress.getLoopbackAddress(), "host secret");
        int port = local.port();
        String script = "wget -q -O - http://127.0.0.1:" + port + "/ 2>&1; echo; "
                + "wget -q -O - http://localhost:" + port + "/ 2>&1; echo; "
                + "wget -q -O - http://169.254.169.254/latest/meta-data/ 2>&1; echo; "
                // CONNECT by hand, as an https client would ask for a tunnel to a loopback port
                + "printf 'CONNECT 127.0.0.1:" + port + " HTTP/1.1\\r\\n\\r\\n' | nc 127.0.0.1 " + EgressRelay.PORT + "; echo; "
                // a tool that ignores the proxy has no way out: the host's loopback is not this loopback
                + "nc -w 3 127.0.0.1 " + port + " </dev/null && echo direct-open || echo direct-refused; "
                + "cat /proc/net/dev";
        for (Sandbox sandbox : List.of(new NamespaceSandbox(true), new NamespaceSandbox(false))) {
            String out = run(sandbox, proxied(script, EgressRules.DEFAULT)).out();
            assertFalse(out.contains("host secret"), out);
            assertTrue(out.contains("HTTP/1.1 403 Forbidden") && out.contains("127.0.0.1 is loopback"), out);
            assertTrue(out.contains("direct-refused"), out);
            assertFalse(out.matches("(?s).*\\n\\s*(eth|en|wl)\\w*:.*"), "only loopback: " + out);
        }
        assertEquals(0, local.hits(), "nothing reached the loopback-only service");
    }

    @Test
    void withoutSocatAnAllowedNetworkIsRefusedInOneLineNeverTheHostsNetwork() throws Exception {
        // a tools dir with everything the sandbox runs except socat
        Path tools = Files.createDirectories(tmp.resolve("tools"));
        for (String tool : List.of("unshare", "sh", "mount", "setpriv", "hostname", "env", "ip", "nsenter", "busybox", "bwrap")) {
            String host = tool.equals("busybox") ? NamespaceSandbox.staticBusybox() : ProcessRunner.hostTool(tool);
            if (host != null) {
                Files.createSymbolicLink(tools.resolve(tool), Path.of(host));
            }
        }
        SandboxException e = assertThrows(SandboxException.class, () -> new NamespaceSandbox(true, tools.toString(), false)
                .run(proxied("echo ran > /leak", EgressRules.DEFAULT).build()));
        assertTrue(e.getMessage().startsWith("RUN refused: ") && e.getMessage().contains("Debian package socat"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertFalse(Files.exists(rootfs.resolve("leak")), "the command must not have run");
    }
}
