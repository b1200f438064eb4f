package dev.kiln.registry.peers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.kiln.oci.Digest;
import dev.kiln.oci.RepositoryName;
import dev.kiln.registry.client.RegistryClient;
import dev.kiln.registry.client.RegistryEndpoint;
import dev.kiln.registry.mirror.MirrorRoute;
import dev.kiln.registry.mirror.StreamingBlob;
import dev.kiln.testkit.Ports;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The asker's side against a stand-in owner (the JDK's HTTP server): what it sends, and what it does with each answer. */
class PeerBlobSourceTest {
    private static final byte[] BLOB = "the owner's bytes".getBytes();
    private static final Digest DIGEST = Digest.sha256(BLOB);
    private static final MirrorRoute ROUTE = new MirrorRoute(new RegistryClient(RegistryEndpoint.of("up", "http://127.0.0.1:9")),
            "team/app", new RepositoryName("up/team/app"));

    private HttpServer owner;
    private final AtomicReference<String> seen = new AtomicReference<>();
    private volatile int status = 200;
    private volatile byte[] body = BLOB;
    private final PeerStats stats = new PeerStats();
    private Peers peers;
    private PeerBlobSource source;

    @BeforeEach
    void start() throws IOException {
        owner = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        owner.createContext("/", exchange -> {
            seen.set(exchange.getRequestURI() + " token=" + exchange.getRequestHeaders().getFirst("Kiln-Peer-Token")
                    + " hop=" + exchange.getRequestHeaders().getFirst("Kiln-Peer-Hop"));
            exchange.sendResponseHeaders(status, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        owner.start();
        String ownerUrl = "http://127.0.0.1:" + owner.getAddress().getPort();
        // the owner is the only other member and this replica is never chosen: a self that loses to it for DIGEST
        String self = "http://self.invalid:1";
        for (int i = 0; Rendezvous.owner(DIGEST.toString(), List.of(self, ownerUrl)).equals(self); i++) {
            self = "http://self.invalid:" + (i + 2);
        }
        peers = new Peers(self, url -> false, Duration.ofSeconds(30), Clock.systemUTC());
        peers.replace(List.of(ownerUrl));
        source = new PeerBlobSource(peers, "secret", Duration.ofSeconds(2), Duration.ofSeconds(10), stats);
    }

    @AfterEach
    void stop() {
        owner.stop(0);
    }

    @Test
    void aMissIsStreamedFromTheOwnerWithTheTokenAndOneHop() throws Exception {
        Optional<StreamingBlob> blob = source.open(ROUTE, DIGEST);
        assertTrue(blob.isPresent());
        try (InputStream in = blob.get().body()) {
            assertArrayEquals(BLOB, in.readAllBytes());
        }
        assertEquals(BLOB.length, blob.get().size());
        assertEquals("/_kiln/peer/blob?upstream=up&name=team%2Fapp&digest=" + DIGEST.toString().replace(":", "%3A")
                + " token=secret hop=1", seen.get());
        assertEquals(1, stats.forwarded.get());
    }

    @Test
    void wrongBytesFromTheOwnerEndInAnError() throws Exception {
        body = "not the owner's bytes".getBytes();
        StreamingBlob blob = source.open(ROUTE, DIGEST).orElseThrow();
        try (InputStream in = blob.body()) {
            assertThrows(IOException.class, in::readAllBytes);
        }
    }

    @Test
    void aRelayedBlobIsHandedToTheLocalCopyOnlyBehindTheDigestCheck() throws Exception {
        List<String> kept = new java.util.ArrayList<>();
        PeerBlobSource keeping = new PeerBlobSource(peers, "secret", Duration.ofSeconds(2), Duration.ofSeconds(10), stats,
                (in, digest, size) -> new java.io.FilterInputStream(in) {
                    // a cache that keeps what reached its end of stream, as the hot-blob cache does
                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        int n = super.read(b, off, len);
                        if (n < 0) {
                            kept.add(digest + " " + size);
                        }
                        return n;
                    }
                });
        try (InputStream in = keeping.open(ROUTE, DIGEST).orElseThrow().body()) {
            assertArrayEquals(BLOB, in.readAllBytes());
        }
        assertEquals(List.of(DIGEST + " " + BLOB.length), kept);
        body = "the owner's bytez".getBytes(); // same length, other bytes
        try (InputStream in = keeping.open(ROUTE, DIGEST).orElseThrow().body()) {
            assertThrows(IOException.class, in::readAllBytes);
        }
        assertEquals(1, kept.size(), "bytes that do not hash to the digest never reach the end of the copy's stream");
    }

    @Test
    void anOwnerAnsweringAnErrorMeansFetchingHereWithoutMarkingItDown() throws Exception {
        status = 502;
        body = "{\"errors\":[{\"code\":\"UNAVAILABLE\"}]}".getBytes();
        assertEquals(Optional.empty(), source.open(ROUTE, DIGEST));
        assertEquals(1, stats.fallbacks.get());
        assertTrue(peers.owner(DIGEST).isPresent(), "an owner that answers is still the owner");
    }

    @Test
    void anOwnerThatIsDownMeansFetchingHereAndItsDigestsGoElsewhereForAWhile() throws Exception {
        owner.stop(0);
        assertEquals(Optional.empty(), source.open(ROUTE, DIGEST));
        assertEquals(1, stats.fallbacks.get());
        assertEquals(Optional.empty(), peers.owner(DIGEST), "the unreachable owner is left out of the hashing");
        assertEquals(Optional.empty(), source.open(ROUTE, DIGEST));
        assertEquals(1, stats.fallbacks.get(), "no second attempt at the dead owner");
    }

    @Test
    void aReplicaAnsweringAPeerNeverForwardsAgain() throws Exception {
        assertEquals(Optional.empty(), PeerBlobSource.answeringPeer(() -> source.open(ROUTE, DIGEST)));
        assertEquals(null, seen.get(), "no request left this replica");
        assertTrue(source.open(ROUTE, DIGEST).isPresent(), "outside a peer's request, misses are routed again");
    }
}
