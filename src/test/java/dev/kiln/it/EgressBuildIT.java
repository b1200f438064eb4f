package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.app.cli.BuildCommand;
import dev.kiln.builder.sandbox.Sandboxes;
import dev.kiln.testkit.BusyboxContext;
import dev.kiln.testkit.Ports;
import dev.kiln.testkit.TextServer;
import dev.kiln.testkit.Tools;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code kiln build} on a workstation with its default network: a RUN fetches through the egress
 * proxy (as apt-get update would), the host's loopback services stay out of reach, and
 * {@code --network=host} is the explicit way back to the host's network.
 */
class EgressBuildIT {
    @TempDir
    Path work;
    private TextServer loopback;
    private TextServer outside;

    @BeforeEach
    void servers() throws Exception {
        Assumptions.assumeTrue(Tools.isRoot() && Sandboxes.namespacesWork(), "needs root and namespaces");
        Tools.require("socat", "socat");
        Tools.require("bwrap", "bubblewrap");
        InetAddress address = Ports.outsideAddress();
        Assumptions.assumeTrue(address != null, "no non-loopback address here");
        loopback = new TextServer(InetAddress.getLoopbackAddress(), "host-only secret");
        outside = new TextServer(address, "package index");
    }

    @AfterEach
    void stop() {
        for (TextServer s : new TextServer[] {loopback, outside}) {
            if (s != null) {
                s.close();
            }
        }
    }

    private record Outcome(int exit, String log) {
    }

    private Outcome build(String name, String run, String... flags) throws Exception {
        Path ctx = BusyboxContext.write(work.resolve(name), "RUN " + run + "\n");
        List<String> args = new ArrayList<>(List.of("-c", ctx.toString(), "--no-push"));
        args.addAll(List.of(flags));
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        int exit = new CommandLine(new BuildCommand(new PrintStream(log, true, StandardCharsets.UTF_8)))
                .execute(args.toArray(String[]::new));
        return new Outcome(exit, log.toString(StandardCharsets.UTF_8));
    }

    @Test
    void theDefaultNetworkFetchesThroughTheProxyAndNeverReachesTheHostsLoopback() throws Exception {
        String address = outside.address().getHostAddress();
        Outcome fetched = build("fetch", "wget -q -O - " + outside.url(), "--egress-allow", address);
        assertEquals(0, fetched.exit(), fetched.log());
        assertTrue(fetched.log().contains("| package index"), fetched.log());
        assertEquals(1, outside.hits());

        Outcome refused = build("refused", "wget -q -O - " + loopback.url());
        assertNotEquals(0, refused.exit(), refused.log());
        assertTrue(refused.log().contains("403"), refused.log());
        assertEquals(0, loopback.hits(), "the host's loopback service was reached: " + refused.log());

        Outcome none = build("none", "wget -q -O - " + outside.url(), "--network=none", "--egress-allow", address);
        assertNotEquals(0, none.exit(), none.log());
        assertEquals(1, outside.hits(), "--network=none reached out: " + none.log());
    }

    @Test
    void networkHostIsTheExplicitWayToTheHostsNetwork() throws Exception {
        Outcome host = build("host", "wget -q -O - " + loopback.url(), "--network=host");
        assertEquals(0, host.exit(), host.log());
        assertTrue(host.log().contains("| host-only secret"), host.log());
        assertEquals(1, loopback.hits());
        Outcome bad = build("bad", "true", "--network=bridge");
        assertEquals(1, bad.exit(), bad.log());
        assertTrue(bad.log().contains("--network must be default, host or none, not bridge"), bad.log());
        assertFalse(bad.log().contains("\tat "), "no stack trace: " + bad.log());
    }
}
