package dev.kiln.builder.egress;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Where a RUN's proxied connections may go: anywhere except the denied ranges, unless the
 * operator allowed the address (a CIDR) or the host name it was asked for by name (an internal
 * package mirror, say). Checked against the address the proxy resolved and then connects to, so
 * a name that resolves differently the second time (DNS rebinding) gains nothing.
 *
 * @param denied       ranges refused unless allowed, each with the rule's name for the refusal
 * @param allowedNets  addresses the operator allows although a denied range holds them
 * @param allowedHosts host names (lower case) whose every address the operator allows
 */
public record EgressRules(List<Denied> denied, List<Cidr> allowedNets, List<String> allowedHosts) {

    /** A denied range and the name a refusal gives it. */
    public record Denied(Cidr range, String rule) {
        @Override
        public String toString() {
            return rule + " " + range;
        }
    }

    public EgressRules {
        denied = List.copyOf(denied);
        allowedNets = List.copyOf(allowedNets);
        allowedHosts = allowedHosts.stream().map(h -> h.toLowerCase(Locale.ROOT)).toList();
    }

    /**
     * The host's own services, the private networks it sits in, the cloud metadata endpoint and
     * every address that is not a unicast destination on the internet.
     */
    public static final List<Denied> PRIVATE_RANGES = List.of(
            denied("0.0.0.0/8", "this-network"),
            denied("127.0.0.0/8", "loopback"),
            denied("10.0.0.0/8", "private (RFC 1918)"),
            denied("172.16.0.0/12", "private (RFC 1918)"),
            denied("192.168.0.0/16", "private (RFC 1918)"),
            denied("169.254.0.0/16", "link-local (cloud metadata)"),
            denied("100.64.0.0/10", "shared address space (CGNAT)"),
            denied("192.0.0.0/24", "IETF protocol assignments"),
            denied("198.18.0.0/15", "benchmarking"),
            denied("224.0.0.0/4", "multicast"),
            denied("240.0.0.0/4", "reserved and broadcast"),
            denied("::/128", "unspecified"),
            denied("::1/128", "loopback"),
            denied("::/96", "IPv4-compatible"),
            denied("64:ff9b::/96", "NAT64"),
            denied("fc00::/7", "unique local (ULA)"),
            denied("fe80::/10", "link-local"),
            denied("fec0::/10", "site-local"),
            denied("ff00::/8", "multicast"));

    /** The default: private ranges denied, nothing allowed on top. */
    public static final EgressRules DEFAULT = new EgressRules(PRIVATE_RANGES, List.of(), List.of());

    private static Denied denied(String cidr, String rule) {
        return new Denied(Cidr.parse(cidr), rule);
    }

    /**
     * The default deny list with the operator's allow list ({@code kiln.builds.egress.allow},
     * {@code kiln build --egress-allow}): CIDRs, single addresses or host names.
     */
    public static EgressRules allowing(List<String> entries) {
        return DEFAULT.withAllowed(entries);
    }

    /** These rules with {@code entries} (CIDRs, addresses, host names) allowed on top. */
    public EgressRules withAllowed(List<String> entries) {
        List<Cidr> nets = new ArrayList<>(allowedNets);
        List<String> hosts = new ArrayList<>(allowedHosts);
        for (String e : entries) {
            String s = e.strip();
            if (s.isEmpty()) {
                continue;
            }
            String address = s.contains("/") ? s.substring(0, s.indexOf('/')) : s;
            if (Cidr.isLiteral(address) || s.contains("/")) {
                nets.add(Cidr.parse(s));
            } else if (s.matches("[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")) {
                hosts.add(s);
            } else {
                throw new IllegalArgumentException("egress allow entry " + e + " is neither a CIDR, an address nor a host name");
            }
        }
        return new EgressRules(denied, nets, hosts);
    }

    /**
     * Why a connection to {@code address}, asked for as {@code host}, is refused; empty when it
     * may go.
     */
    public Optional<String> refusal(String host, InetAddress address) {
        if (allowedHosts.contains(host.toLowerCase(Locale.ROOT))) {
            return Optional.empty();
        }
        for (Cidr allowed : allowedNets) {
            if (allowed.contains(address)) {
                return Optional.empty();
            }
        }
        for (Denied d : denied) {
            if (d.range().contains(address)) {
                return Optional.of(d.toString());
            }
        }
        return Optional.empty();
    }
}
