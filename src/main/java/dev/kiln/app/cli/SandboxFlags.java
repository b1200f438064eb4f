package dev.kiln.app.cli;

import dev.kiln.builder.egress.EgressRules;
import dev.kiln.builder.sandbox.SandboxPolicy;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** How {@code kiln build} isolates RUN: the sandbox, its seccomp filter and RUN's network. */
class SandboxFlags {
    @Option(names = "--sandbox", description = "How RUN is isolated: auto, namespaces, proot, in-place (default: auto; in-place in the executor container)")
    String sandbox;

    @Option(names = "--seccomp", arity = "0..1", fallbackValue = "true", defaultValue = "true",
            description = "With the namespaces sandbox: load the seccomp filter (bubblewrap's bwrap) on every RUN; "
                    + "false runs RUN without it (default ${DEFAULT-VALUE})")
    boolean seccomp;

    @Option(names = "--network", defaultValue = "default", description = "RUN's network: default (as with kaniko, RUN "
            + "may fetch: in the namespaces sandbox through Kiln's egress proxy, which refuses loopback and private "
            + "addresses; in place, the container's), host (the host's own network, no proxy) or none (loopback only); "
            + "RUN --network=none always isolates (default ${DEFAULT-VALUE})")
    String network;

    @Option(names = "--egress-allow", split = ",", description = "With --network=default: an address, CIDR or host name "
            + "the egress proxy lets RUN reach although it is private (an internal package mirror); repeatable")
    List<String> egressAllow = new ArrayList<>();

    /** Null when the flags fit together, else the one line that says what is wrong. */
    String problem() {
        if (!List.of("default", "host", "none").contains(network)) {
            return "--network must be default, host or none, not " + network;
        }
        try {
            EgressRules.allowing(egressAllow);
        } catch (IllegalArgumentException e) {
            return "--egress-allow: " + e.getMessage();
        }
        return null;
    }

    boolean allowNetwork() {
        return !network.equals("none");
    }

    SandboxPolicy policy() {
        return SandboxPolicy.DEFAULT.withSeccomp(seccomp)
                .withAllowedNetwork(network.equals("host") ? SandboxPolicy.AllowedNetwork.HOST : SandboxPolicy.AllowedNetwork.PROXY)
                .withEgress(EgressRules.allowing(egressAllow));
    }
}
