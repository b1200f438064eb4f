package dev.kiln.registry.mirror;

import dev.kiln.oci.Digest;
import dev.kiln.registry.client.UpstreamException;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import java.time.Duration;
import java.util.Map;
import java.util.logging.Logger;

/** What the mirror tells clients and operators about upstream fetches: the relayed error and the fetch log line. */
final class MirrorFailures {
    private static final Logger LOG = Logger.getLogger(MirrorService.class.getName());

    private MirrorFailures() {
    }

    /**
     * The client's answer to an upstream failure. Does not count it: a blob download that failed was
     * counted once by its fetcher, however many clients were waiting for it.
     */
    static RegistryException relay(MirrorRoute route, UpstreamException e, String what) {
        String message = "upstream " + route.upstreamName() + ": " + e.getMessage();
        Map<String, String> detail = Map.of("upstream", route.upstreamName(), "status", Integer.toString(e.status()));
        return switch (e.status()) {
            case 404 -> new RegistryException(what.startsWith("blob") ? ErrorCode.BLOB_UNKNOWN
                    : what.equals("tags") ? ErrorCode.NAME_UNKNOWN : ErrorCode.MANIFEST_UNKNOWN, message, detail);
            case 429 -> new RegistryException(ErrorCode.TOOMANYREQUESTS, 429, message, detail,
                    e.retryAfter() == null ? Map.of() : Map.of("Retry-After", e.retryAfter()));
            case 401, 403 -> new RegistryException(ErrorCode.DENIED, 403, message + " (check the credentials configured for this upstream)", detail, Map.of());
            default -> new RegistryException(ErrorCode.UNAVAILABLE, 502, message, detail, Map.of());
        };
    }

    /** The one INFO line per upstream fetch an operator reads, and the latency metric. */
    static void fetched(MirrorStats stats, MirrorRoute route, String kind, Digest digest, long bytes, long startNanos, int waiters) {
        Duration took = Duration.ofNanos(System.nanoTime() - startNanos);
        stats.fetched(route.upstreamName(), kind.startsWith("manifest") ? "manifest" : "blob", bytes, took);
        LOG.info(() -> "fetched " + kind + " " + route.upstreamName() + "/" + route.remoteName() + "@" + digest
                + ": " + bytes + " bytes in " + took.toMillis() + " ms"
                + (waiters >= 0 ? ", " + waiters + " coalesced waiters" : ""));
    }
}
