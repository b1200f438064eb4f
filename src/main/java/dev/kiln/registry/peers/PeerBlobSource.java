package dev.kiln.registry.peers;

import dev.kiln.oci.Digest;
import dev.kiln.registry.mirror.BlobSource;
import dev.kiln.registry.mirror.MirrorRoute;
import dev.kiln.registry.mirror.StreamingBlob;
import dev.kiln.store.BlobStore;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.logging.Logger;

/**
 * A mirror miss on a replica that does not own the digest: streamed from the owner, which fetches it
 * from the upstream once (for every replica) and writes it to the shared store. The asker keeps
 * nothing itself and hands its client bytes that fail unless they hash to the digest. When the owner
 * cannot be reached or answers with an error before any byte, the miss is fetched here instead.
 */
public final class PeerBlobSource implements BlobSource {
    private static final Logger LOG = Logger.getLogger(PeerBlobSource.class.getName());
    public static final String PATH = "/_kiln/peer/blob";
    public static final String TOKEN_HEADER = "Kiln-Peer-Token";
    /** Marks a request as already forwarded once: its receiver serves it itself, so routing never loops. */
    public static final String HOP_HEADER = "Kiln-Peer-Hop";

    /** Set while this thread answers a peer: the owner's own miss path must not forward again. */
    private static final ThreadLocal<Boolean> ANSWERING_PEER = ThreadLocal.withInitial(() -> false);

    private final Peers peers;
    private final HttpClient http;
    private final String token;
    private final Duration answerTimeout;
    private final PeerStats stats;
    private final RelayedCopies local;

    public PeerBlobSource(Peers peers, String token, Duration connectTimeout, Duration answerTimeout, PeerStats stats) {
        this(peers, token, connectTimeout, answerTimeout, stats, (in, digest, size) -> in);
    }

    /** As above, handing each relayed blob's stream to {@code local} (the store's {@link BlobStore#keepingRelayedCopy}). */
    public PeerBlobSource(Peers peers, String token, Duration connectTimeout, Duration answerTimeout, PeerStats stats, RelayedCopies local) {
        this.local = local;
        this.peers = peers;
        this.token = token;
        this.answerTimeout = answerTimeout;
        this.stats = stats;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(connectTimeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    /** What may keep a copy of a relayed blob on this replica, as {@link BlobStore#keepingRelayedCopy} does. */
    @FunctionalInterface
    public interface RelayedCopies {
        InputStream keep(InputStream in, Digest digest, long size) throws IOException;
    }

    /** Runs {@code answer} for a peer's request: any miss inside is fetched here, never forwarded. */
    public static <T> T answeringPeer(Callable<T> answer) throws Exception {
        ANSWERING_PEER.set(true);
        try {
            return answer.call();
        } finally {
            ANSWERING_PEER.remove();
        }
    }

    @Override
    public Optional<StreamingBlob> open(MirrorRoute route, Digest digest) throws IOException {
        if (ANSWERING_PEER.get()) {
            return Optional.empty();
        }
        Optional<String> owner = peers.owner(digest);
        if (owner.isEmpty()) {
            return Optional.empty();
        }
        URI uri = URI.create(owner.get() + PATH + "?upstream=" + encode(route.upstreamName())
                + "&name=" + encode(route.remoteName()) + "&digest=" + encode(digest.toString()));
        HttpRequest request = HttpRequest.newBuilder(uri).GET()
                .header(TOKEN_HEADER, token)
                .header(HOP_HEADER, "1")
                .timeout(answerTimeout)
                .build();
        HttpResponse<InputStream> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            peers.markDown(owner.get());
            return fallBack(owner.get(), digest, "unreachable (" + e + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while asking " + owner.get() + " for " + digest, e);
        }
        if (response.statusCode() != 200) {
            String reason;
            try (InputStream body = response.body()) {
                reason = new String(body.readNBytes(512), StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
                reason = "";
            }
            return fallBack(owner.get(), digest, "answered " + response.statusCode() + (reason.isEmpty() ? "" : " " + reason));
        }
        stats.forwarded.incrementAndGet();
        long size = response.headers().firstValueAsLong("Content-Length").orElse(-1);
        // outside the verifying stream: the copy is kept only after the last byte passed the digest check
        return Optional.of(new StreamingBlob(digest, size, local.keep(new VerifyingStream(response.body(), digest), digest, size)));
    }

    private Optional<StreamingBlob> fallBack(String owner, Digest digest, String reason) {
        stats.fallbacks.incrementAndGet();
        LOG.warning(() -> "peer " + owner + " owns " + digest + " but is " + reason + "; fetching it from the upstream here");
        return Optional.empty();
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }
}
