package dev.kiln.app.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.app.cluster.ClusterWiring;
import dev.kiln.oci.Digest;
import dev.kiln.registry.mirror.MirrorRoute;
import dev.kiln.registry.mirror.MirrorService;
import dev.kiln.registry.mirror.StreamingBlob;
import dev.kiln.registry.mirror.UpstreamRouter;
import dev.kiln.registry.peers.PeerBlobSource;
import dev.kiln.registry.server.BlobLocation;
import dev.kiln.registry.server.RegistryService;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * The owner's side of peer routing: another replica's mirror miss, answered as this replica's own
 * miss would be (fetched once from the upstream into the shared store, streamed while it arrives)
 * but never forwarded again. Only mirrored names are served, and only to callers holding the peer
 * token: the endpoint is no way around the registry's users or its local repositories.
 */
@ApplicationScoped
public class PeerRoutes {
    private static final Logger LOG = Logger.getLogger(PeerRoutes.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    @Inject
    ClusterWiring cluster;

    @Inject
    UpstreamRouter upstreams;

    @Inject
    MirrorService mirror;

    @Inject
    RegistryService registry;

    void install(@Observes Router router) {
        router.route(PeerBlobSource.PATH).order(-100).handler(this::handle);
    }

    void handle(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        HttpServerResponse response = ctx.response();
        Optional<String> token = cluster.token();
        if (token.isEmpty()) {
            error(response, new RegistryException(ErrorCode.UNSUPPORTED, 404, "peer routing is not enabled on this replica", null, Map.of()));
            return;
        }
        if (!sameSecret(request.getHeader(PeerBlobSource.TOKEN_HEADER), token.get())) {
            cluster.stats().refused.incrementAndGet();
            error(response, new RegistryException(ErrorCode.UNAUTHORIZED, 401, "a peer request needs the replicas' peer token", null, Map.of()));
            return;
        }
        if (!"1".equals(request.getHeader(PeerBlobSource.HOP_HEADER)) || !request.method().name().equals("GET")) {
            error(response, new RegistryException(ErrorCode.UNSUPPORTED, 400, "a peer request is one GET with " + PeerBlobSource.HOP_HEADER + ": 1", null, Map.of()));
            return;
        }
        ctx.vertx().<Object>executeBlocking(() -> PeerBlobSource.answeringPeer(() -> {
            Digest digest = RegistryService.parseDigest(request.getParam("digest", ""));
            MirrorRoute route = upstreams.routeForRegistry(request.getParam("upstream", ""), request.getParam("name", ""))
                    .orElseThrow(() -> new RegistryException(ErrorCode.NAME_UNKNOWN, "no upstream " + request.getParam("upstream")
                            + " is configured on this replica", Map.of()));
            Object blob = mirror.blob(route, digest);
            if (blob instanceof BlobLocation stored) {
                // stored since the asker looked: the bytes come from the store
                return new StreamingBlob(digest, stored.size(), registry.store().blobs().open(digest, 0));
            }
            return blob;
        }), false).onComplete(result -> {
            if (result.failed()) {
                error(response, result.cause() instanceof RegistryException e ? e
                        : new RegistryException(ErrorCode.UNKNOWN, 500, String.valueOf(result.cause().getMessage()), null, Map.of()));
                return;
            }
            StreamingBlob blob = (StreamingBlob) result.result();
            cluster.stats().served.incrementAndGet();
            response.setStatusCode(200).putHeader("Content-Type", "application/octet-stream");
            if (blob.size() >= 0) {
                response.putHeader("Content-Length", Long.toString(blob.size()));
            } else {
                response.setChunked(true);
            }
            ResponsePump.start(request, response, blob.body());
        });
    }

    /** Constant-time, and independent of the lengths: both sides are hashed first. */
    static boolean sameSecret(String given, String expected) {
        if (given == null) {
            return false;
        }
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] a = sha.digest(given.getBytes(StandardCharsets.UTF_8));
            byte[] b = sha.digest(expected.getBytes(StandardCharsets.UTF_8));
            return MessageDigest.isEqual(a, b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void error(HttpServerResponse response, RegistryException e) {
        if (e.status() >= 500) {
            LOG.warnf("peer request failed: %s", e.getMessage());
        }
        ObjectNode error = JSON.createObjectNode();
        error.put("code", e.code().name());
        error.put("message", e.getMessage());
        ObjectNode root = JSON.createObjectNode();
        root.putArray("errors").add(error);
        response.setStatusCode(e.status()).putHeader("Content-Type", "application/json").end(root.toString());
    }
}
