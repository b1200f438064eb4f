package dev.kiln.builder.egress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class EgressRulesTest {

    private static Optional<String> refusal(EgressRules rules, String host, String address) throws Exception {
        return rules.refusal(host, InetAddress.getByName(address));
    }

    @Test
    void everyRangeOfTheThreatModelIsDenied() throws Exception {
        String[][] cases = {
                {"0.1.2.3", "this-network"}, {"127.0.0.53", "loopback"}, {"10.1.2.3", "RFC 1918"},
                {"172.31.255.1", "RFC 1918"}, {"192.168.1.1", "RFC 1918"}, {"169.254.169.254", "cloud metadata"},
                {"100.100.100.200", "CGNAT"}, {"224.0.0.1", "multicast"}, {"255.255.255.255", "broadcast"},
                {"::1", "loopback ::1/128"}, {"::", "unspecified"}, {"fd00::2", "ULA"}, {"fe80::1", "link-local fe80::/10"},
                {"ff02::1", "multicast"}, {"::ffff:127.0.0.1", "loopback"}, {"::127.0.0.1", "IPv4-compatible"}};
        for (String[] c : cases) {
            Optional<String> why = refusal(EgressRules.DEFAULT, "h", c[0]);
            assertTrue(why.isPresent() && why.get().contains(c[1]), c[0] + ": " + why);
        }
        for (String open : List.of("172.32.0.1", "100.128.0.1", "8.8.4.4", "2001:db8::1", "192.0.2.2")) {
            assertEquals(Optional.empty(), refusal(EgressRules.DEFAULT, "h", open), open);
        }
    }

    @Test
    void theOperatorsAllowListWinsByAddressOrByName() throws Exception {
        EgressRules rules = EgressRules.allowing(List.of("10.20.0.0/16", "192.168.7.7", "Mirror.Internal"));
        assertEquals(Optional.empty(), refusal(rules, "x", "10.20.3.4"));
        assertTrue(refusal(rules, "x", "10.21.3.4").isPresent());
        assertEquals(Optional.empty(), refusal(rules, "x", "192.168.7.7"));
        assertTrue(refusal(rules, "x", "192.168.7.8").isPresent());
        assertEquals(Optional.empty(), refusal(rules, "mirror.internal", "10.9.9.9"));
        assertTrue(refusal(rules, "other.internal", "10.9.9.9").isPresent());
    }

    @Test
    void badEntriesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> EgressRules.allowing(List.of("10.0.0.0/33")));
        assertThrows(IllegalArgumentException.class, () -> EgressRules.allowing(List.of("a b")));
        assertThrows(IllegalArgumentException.class, () -> EgressRules.allowing(List.of("mirror/8")));
        assertEquals("fe80::/10", Cidr.parse("fe80::/10").toString());
        assertEquals("::1/128", Cidr.parse("::1").toString());
        assertEquals("2001:db8:0:1::/64", Cidr.parse("2001:db8:0:1::/64").toString());
    }
}
