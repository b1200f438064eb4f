package dev.kiln.builder.sandbox;

import dev.kiln.builder.egress.EgressRules;
import java.util.Objects;

/**
 * What the operator (gateway configuration) or the user (CLI flags) decided for the RUNs of one
 * build, carried by the build request into every {@link RunSpec}: two builds in one process may
 * differ.
 *
 * @param seccomp             the namespace sandbox loads its seccomp filter on every RUN (refused without bwrap)
 * @param cgroupLimits        cgroup v2 limits of every RUN ({@code kiln.builds.limits.run-*})
 * @param requireCgroupLimits refuse a RUN where those limits cannot be applied, instead of one warning
 * @param allowedNetwork      what a RUN that may use the network gets: the egress proxy or the host's network
 * @param egress              where the egress proxy lets such a RUN connect
 */
public record SandboxPolicy(boolean seccomp, CgroupV2.Limits cgroupLimits, boolean requireCgroupLimits,
                            AllowedNetwork allowedNetwork, EgressRules egress) {

    /** What {@code kiln.builds.allow-network=true} or {@code kiln build --network=default} gives a RUN. */
    public enum AllowedNetwork {
        /** Loopback only, with Kiln's egress proxy at 127.0.0.1 (HTTP_PROXY and friends set). */
        PROXY,
        /** The host's network namespace: only when asked for explicitly ({@code kiln build --network=host}). */
        HOST
    }

    public static final SandboxPolicy DEFAULT = new SandboxPolicy(true, CgroupV2.Limits.NONE, false,
            AllowedNetwork.PROXY, EgressRules.DEFAULT);

    public SandboxPolicy {
        Objects.requireNonNull(cgroupLimits, "cgroupLimits");
        Objects.requireNonNull(allowedNetwork, "allowedNetwork");
        Objects.requireNonNull(egress, "egress");
    }

    public SandboxPolicy withSeccomp(boolean on) {
        return new SandboxPolicy(on, cgroupLimits, requireCgroupLimits, allowedNetwork, egress);
    }

    public SandboxPolicy withCgroupLimits(CgroupV2.Limits limits, boolean required) {
        return new SandboxPolicy(seccomp, limits, required, allowedNetwork, egress);
    }

    public SandboxPolicy withAllowedNetwork(AllowedNetwork network) {
        return new SandboxPolicy(seccomp, cgroupLimits, requireCgroupLimits, network, egress);
    }

    public SandboxPolicy withEgress(EgressRules rules) {
        return new SandboxPolicy(seccomp, cgroupLimits, requireCgroupLimits, allowedNetwork, rules);
    }
}
