package dev.kiln.app.kubernetes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.app.cli.BuildCommand;
import dev.kiln.builder.egress.EgressRules;
import dev.kiln.builder.gateway.BuildSpec;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The gateway's egress allow list travels into the Build Jobs it generates, as the executor's own flag. */
class BuildJobEgressTest {
    private static final BuildSpec SPEC = new BuildSpec("git://git.example/app.git#main", null, null, null, null, null, false, null);

    private static BuildJobSpec.Settings settings(String sandbox, boolean allowNetwork, List<String> egressAllow) {
        return new BuildJobSpec.Settings("builds", "img", List.of(), "kiln:5000", false, false, "cache/layers", null, null,
                sandbox, Map.of(), Map.of(), Duration.ofHours(1), Duration.ofHours(1), "kiln", List.of(), allowNetwork, egressAllow);
    }

    /** The Job's args as the executor's own {@code kiln build} parser reads them. */
    private static CommandLine.ParseResult parsed(BuildJobSpec.Settings settings) {
        List<String> args = BuildJobSpec.job("0123456789abcdef0123", SPEC, SPEC.context(), settings).getSpec().getTemplate()
                .getSpec().getContainers().get(0).getArgs();
        assertEquals("build", args.get(0));
        return new CommandLine(new BuildCommand()).setOverwrittenOptionsAllowed(true)
                .parseArgs(args.subList(1, args.size()).toArray(String[]::new));
    }

    @Test
    void theExecutorsProxyAllowsWhatTheGatewayAllows() throws Exception {
        CommandLine.ParseResult parsed = parsed(settings("namespaces", true, List.of("10.1.2.0/24", "mirror.internal")));
        List<String> allowed = parsed.matchedOptionValue("--egress-allow", List.<String>of());
        assertEquals(List.of("10.1.2.0/24", "mirror.internal"), allowed);
        assertEquals("default", parsed.matchedOptionValue("--network", "default"));
        EgressRules rules = EgressRules.allowing(allowed);
        assertTrue(rules.refusal("10.1.2.7", InetAddress.getByName("10.1.2.7")).isEmpty(), "allowed by the gateway");
        assertTrue(rules.refusal("mirror.internal", InetAddress.getByName("10.9.9.9")).isEmpty(), "allowed by name");
        assertFalse(rules.refusal("10.1.3.7", InetAddress.getByName("10.1.3.7")).isEmpty(), "private and not allowed");
    }

    @Test
    void withoutNetworkOrInPlaceThereIsNoProxyToConfigure() {
        CommandLine.ParseResult none = parsed(settings("namespaces", false, List.of("10.1.2.0/24")));
        assertFalse(none.hasMatchedOption("--egress-allow"));
        assertEquals("none", none.matchedOptionValue("--network", "default"));
        // in place, RUN has the pod's network (limited by the NetworkPolicy), no proxy
        assertFalse(parsed(settings("in-place", true, List.of("10.1.2.0/24"))).hasMatchedOption("--egress-allow"));
        assertFalse(parsed(settings("namespaces", true, List.of())).hasMatchedOption("--egress-allow"));
    }

    @Test
    void anEntryTheExecutorWouldRefuseFailsTheGatewaysStart() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> settings("namespaces", true, List.of("10.1.2.0/x")));
        assertTrue(refused.getMessage().contains("10.1.2.0/x"), refused.getMessage());
    }
}
