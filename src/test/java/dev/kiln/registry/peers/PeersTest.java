package dev.kiln.registry.peers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.Digest;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PeersTest {
    private static final List<String> THREE = List.of("http://kiln-a:5000", "http://kiln-b:5000", "http://kiln-c:5000");

    private static List<Digest> digests(int n) {
        List<Digest> digests = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            digests.add(Digest.sha256(("blob " + i).getBytes()));
        }
        return digests;
    }

    private static Peers peers(String self, List<String> members, Clock clock) {
        Peers peers = new Peers(self, url -> false, Duration.ofSeconds(15), clock);
        peers.replace(members);
        return peers;
    }

    /** Every replica, from its own point of view, names the same owner for a digest. */
    @Test
    void everyReplicaAgreesOnTheOwner() {
        Clock clock = Clock.systemUTC();
        Map<String, Peers> views = new HashMap<>();
        for (String self : THREE) {
            views.put(self, peers(self, THREE, clock));
        }
        for (Digest digest : digests(300)) {
            String expected = Rendezvous.owner(digest.toString(), THREE);
            for (Map.Entry<String, Peers> view : views.entrySet()) {
                Optional<String> owner = view.getValue().owner(digest);
                assertEquals(expected, owner.orElse(view.getKey()), "owner of " + digest + " seen from " + view.getKey());
            }
        }
    }

    @Test
    void ownershipIsSpreadOverTheMembers() {
        Map<String, Integer> counts = new HashMap<>();
        for (Digest digest : digests(3000)) {
            counts.merge(Rendezvous.owner(digest.toString(), THREE), 1, Integer::sum);
        }
        assertEquals(3, counts.size());
        counts.values().forEach(n -> assertTrue(n > 850 && n < 1150, "share of one member: " + counts));
    }

    /** A member leaving moves only its own digests; one joining takes about 1/N and moves nothing else. */
    @Test
    void membershipChangesMoveOnlyTheDigestsThatMust() {
        List<String> two = THREE.subList(0, 2);
        List<String> four = new ArrayList<>(THREE);
        four.add("http://kiln-d:5000");
        int movedToNewcomer = 0;
        for (Digest digest : digests(2000)) {
            String before = Rendezvous.owner(digest.toString(), THREE);
            String afterLeave = Rendezvous.owner(digest.toString(), two);
            if (!before.equals("http://kiln-c:5000")) {
                assertEquals(before, afterLeave, "a digest not owned by the leaver moved");
            }
            String afterJoin = Rendezvous.owner(digest.toString(), four);
            if (!afterJoin.equals(before)) {
                assertEquals("http://kiln-d:5000", afterJoin, "a join moved a digest between old members");
                movedToNewcomer++;
            }
        }
        assertTrue(movedToNewcomer > 350 && movedToNewcomer < 650, "the newcomer took " + movedToNewcomer + " of 2000");
    }

    @Test
    void aPeerMarkedDownIsLeftOutUntilItsTimeIsUp() {
        MutableClock clock = new MutableClock();
        Peers peers = peers("http://kiln-a:5000", THREE, clock);
        Digest ownedByB = digests(500).stream()
                .filter(d -> Rendezvous.owner(d.toString(), THREE).equals("http://kiln-b:5000")).findFirst().orElseThrow();
        assertEquals(Optional.of("http://kiln-b:5000"), peers.owner(ownedByB));
        peers.markDown("http://kiln-b:5000");
        String fallback = peers.owner(ownedByB).orElse("http://kiln-a:5000");
        assertEquals(Rendezvous.owner(ownedByB.toString(), List.of("http://kiln-a:5000", "http://kiln-c:5000")), fallback);
        clock.now = clock.now.plusSeconds(16);
        assertEquals(Optional.of("http://kiln-b:5000"), peers.owner(ownedByB));
    }

    @Test
    void theReplicaItselfIsRecognisedInTheListAndLeftOutOfTheOthers() throws Exception {
        PeerUrls.Self self = new PeerUrls.Self(5001, Set.of(InetAddress.getByName("127.0.0.1"), InetAddress.getByName("10.1.2.3")));
        assertTrue(self.is("http://127.0.0.1:5001"));
        assertTrue(self.is("http://10.1.2.3:5001"));
        assertFalse(self.is("http://127.0.0.1:5002"), "another replica on this machine");
        assertFalse(self.is("http://10.1.2.4:5001"));
        Peers peers = new Peers("http://127.0.0.1:5001", self::is, Duration.ofSeconds(1), Clock.systemUTC());
        peers.replace(List.of("http://127.0.0.1:5001", "http://127.0.0.1:5002", "http://10.1.2.3:5001"));
        assertEquals(List.of("http://127.0.0.1:5002"), peers.others());
    }

    @Test
    void peerUrlsHaveOneSpelling() {
        assertEquals("http://kiln-1:5000", PeerUrls.canonical("kiln-1", 5000));
        assertEquals("http://kiln-1:5000", PeerUrls.canonical("HTTP://Kiln-1:5000/", 9999));
        assertEquals("https://kiln-1:443", PeerUrls.canonical("https://kiln-1:443", 5000));
        assertThrows(IllegalArgumentException.class, () -> PeerUrls.canonical("http://kiln-1:5000/v2/", 5000));
        assertThrows(IllegalArgumentException.class, () -> PeerUrls.canonical("ftp://kiln-1", 5000));
    }

    private static final class MutableClock extends Clock {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
