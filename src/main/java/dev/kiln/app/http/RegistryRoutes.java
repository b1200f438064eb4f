package dev.kiln.app.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.oci.Digest;
import dev.kiln.oci.InvalidNameException;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.RepositoryName;
import dev.kiln.registry.mirror.MirrorRoute;
import dev.kiln.registry.mirror.MirrorService;
import dev.kiln.registry.mirror.StreamingBlob;
import dev.kiln.registry.mirror.UpstreamRouter;
import dev.kiln.registry.server.BlobLocation;
import dev.kiln.registry.server.ManifestPut;
import dev.kiln.registry.server.Page;
import dev.kiln.registry.server.RegistryService;
import dev.kiln.registry.server.UploadState;
import dev.kiln.registry.server.V2Route;
import dev.kiln.registry.spec.ByteRange;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.Headers;
import dev.kiln.registry.spec.RegistryException;
import dev.kiln.store.BlobBody;
import dev.kiln.store.ManifestLimits;
import dev.kiln.store.ReadLeases;
import dev.kiln.store.StoreWriteException;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import io.vertx.core.Future;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * The OCI distribution API on Vert.x routes: Vert.x sends blob files with zero-copy and lets request
 * bodies stream with back-pressure. The handler only translates HTTP to {@link RegistryService} calls,
 * which run on worker threads because the store is blocking file I/O.
 */
@ApplicationScoped
public class RegistryRoutes {
    private static final Logger LOG = Logger.getLogger(RegistryRoutes.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    @Inject
    RegistryService registry;

    @Inject
    AccessControl access;

    @Inject
    UpstreamRouter upstreams;

    @Inject
    MirrorService mirror;

    @Inject
    ReadLeases leases;

    @Inject
    UploadSlots slots;

    void install(@Observes Router router) {
        router.route().pathRegex("/v2(/.*)?").order(-100).handler(this::handle).failureHandler(this::failed);
        // routes match the normalised path: "/v2/../q/x" would reach another handler (or an HTML 404)
        router.route().order(-101).handler(ctx -> {
            String raw = ctx.request().path();
            boolean v2 = raw != null && (raw.equals("/v2") || raw.startsWith("/v2/"));
            RegistryException refused = null;
            if (v2 && !ctx.normalizedPath().matches("/v2(/.*)?")) {
                refused = new RegistryException(ErrorCode.NAME_INVALID, 400, "dot segments are not allowed in a repository path", null, Map.of());
            } else if (v2 && ctx.request().version() == HttpVersion.HTTP_1_1 && ctx.request().getHeader("Host") == null) {
                refused = new RegistryException(ErrorCode.UNSUPPORTED, 400, "HTTP/1.1 requests must carry a Host header", null, Map.of());
            }
            if (refused == null) {
                ctx.next();
                return;
            }
            ctx.request().pause();
            ctx.response().putHeader(Headers.API_VERSION, Headers.API_VERSION_VALUE);
            sendError(ctx.request(), ctx.response(), refused);
        });
    }

    /**
     * What Vert.x itself refuses before a handler runs (an HTTP/1.1 request without Host) or a handler
     * throws: OCI error JSON like everything else on /v2/, never the framework's page with a stack trace.
     */
    void failed(RoutingContext ctx) {
        if (ctx.response().ended()) {
            return;
        }
        ctx.response().putHeader(Headers.API_VERSION, Headers.API_VERSION_VALUE);
        RegistryException error = ctx.failure() instanceof RegistryException e ? e
                : ctx.statusCode() >= 400 && ctx.statusCode() < 500
                        ? new RegistryException(ErrorCode.UNSUPPORTED, ctx.statusCode(), ctx.request().getHeader("Host") == null
                                ? "HTTP/1.1 requests must carry a Host header" : "the request is malformed", null, Map.of())
                        : asRegistryException(ctx.failure() == null ? new IllegalStateException("status " + ctx.statusCode()) : ctx.failure());
        sendError(ctx.request(), ctx.response(), error);
    }

    void handle(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        request.pause();
        HttpServerResponse response = ctx.response();
        response.putHeader(Headers.API_VERSION, Headers.API_VERSION_VALUE);
        V2Route route;
        try {
            route = V2Route.parse(request.path());
            if (route == null) {
                throw new RegistryException(ErrorCode.UNSUPPORTED, 404, "no such endpoint: " + request.method() + " " + request.path(), null, Map.of());
            }
        } catch (RegistryException e) {
            refuse(request, response, e);
            return;
        }
        AccessControl.Need need = route.kind() == V2Route.Kind.BASE ? AccessControl.Need.PING
                : isWrite(request.method()) ? AccessControl.Need.WRITE : AccessControl.Need.READ;
        access.authenticate(ctx.vertx(), request.getHeader("Authorization"), client(request), need).onComplete(caller -> {
            if (caller.failed()) {
                refuse(request, response, asRegistryException(caller.cause()));
            } else {
                proceed(ctx, route);
            }
        });
    }

    /** The remote address, which the failure and upload limits count by. */
    static String client(HttpServerRequest request) {
        return request.remoteAddress() == null ? "unknown" : request.remoteAddress().hostAddress();
    }

    private void refuse(HttpServerRequest request, HttpServerResponse response, RegistryException e) {
        if (expectsContinue(request)) {
            // the client holds its body back until told to send it: answer, then close rather than wait for it
            response.putHeader("Connection", "close");
            response.endHandler(v -> request.connection().close());
        }
        sendError(request, response, e);
    }

    private void proceed(RoutingContext ctx, V2Route route) {
        HttpServerRequest request = ctx.request();
        HttpServerResponse response = ctx.response();
        HttpMethod method = request.method();
        MultiMap params = request.params();
        Future<Reply> reply;
        Runnable release = () -> { };
        try {
            SegmentedBody.Step<Reply> blob = hasBody(method) ? blobBody(route, request, params) : null;
            boolean manifest = route.kind() == V2Route.Kind.MANIFEST && method.equals(HttpMethod.PUT);
            if (blob != null || manifest) {
                release = slots.acquire(client(request));
            }
            if (hasBody(method) && request.version() != HttpVersion.HTTP_1_0 && expectsContinue(request)) {
                response.writeContinue(); // only now that the request may proceed: a refused client never sends its body
            }
            if (blob != null) {
                reply = SegmentedBody.run(ctx.vertx(), request, blob);
            } else if (manifest) {
                reply = SegmentedBody.whole(request, ManifestLimits.MAX_MANIFEST_BYTES).compose(bytes -> ctx.vertx().executeBlocking(
                        () -> dispatch(route, request, params, new ByteArrayInputStream(bytes)), false));
            } else {
                reply = ctx.vertx().executeBlocking(() -> dispatch(route, request, params, InputStream.nullInputStream()), false);
            }
        } catch (RegistryException e) {
            release.run();
            refuse(request, response, e);
            return;
        }
        Runnable done = release;
        reply.onComplete(result -> {
            done.run();
            if (result.succeeded()) {
                send(request, response, result.result());
            } else {
                sendError(request, response, asRegistryException(result.cause()));
            }
        });
    }

    /**
     * The steps that take a blob's bytes into the store segment by segment (see {@link SegmentedBody}),
     * or null when this request carries no blob. Headers are checked here, before any byte is read.
     */
    private SegmentedBody.Step<Reply> blobBody(V2Route route, HttpServerRequest request, MultiMap params) {
        HttpMethod method = request.method();
        RepositoryName name = route.name();
        String id = route.argument();
        if (route.kind() == V2Route.Kind.UPLOAD && (method.equals(HttpMethod.PATCH) || method.equals(HttpMethod.PUT))) {
            ByteRange range = ByteRange.forChunk(request.getHeader("Content-Range"));
            long length = contentLength(request);
            if (method.equals(HttpMethod.PATCH) && range != null && length >= 0 && range.length() != length) {
                throw new RegistryException(ErrorCode.SIZE_INVALID, "Content-Range " + range.start() + "-" + range.end()
                        + " does not match Content-Length " + length);
            }
            Digest digest = method.equals(HttpMethod.PUT) ? RegistryService.parseDigest(params.get("digest")) : null;
            long start = range == null ? -1 : range.start();
            UploadState[] state = {null};
            return (segment, first, last) -> {
                if (first) {
                    requireLocalPush(name, params);
                }
                state[0] = registry.appendChunk(name, id, segment, first ? start : state[0].size(), -1);
                if (!last) {
                    return null;
                }
                return digest == null ? uploadAccepted(state[0])
                        : blobCreated(name, registry.completeUpload(name, id, digest, InputStream.nullInputStream(), -1, 0));
            };
        }
        if (route.kind() == V2Route.Kind.UPLOADS && method.equals(HttpMethod.POST) && params.get("digest") != null
                && params.get("mount") == null) {
            // a monolithic upload goes through a session like any other, so it too is taken segment by segment
            Digest digest = RegistryService.parseDigest(params.get("digest"));
            UploadState[] session = {null};
            return (segment, first, last) -> {
                if (first) {
                    requireLocalPush(name, params);
                    session[0] = registry.startUpload(name);
                }
                try {
                    session[0] = registry.appendChunk(name, session[0].id(), segment, session[0].size(), -1);
                    return last ? blobCreated(name, registry.completeUpload(name, session[0].id(), digest, InputStream.nullInputStream(), -1, 0))
                            : null;
                } catch (IOException | RuntimeException e) {
                    try {
                        registry.cancelUpload(name, session[0].id());
                    } catch (IOException | RuntimeException gone) {
                        e.addSuppressed(gone); // a refused digest already discarded the session
                    }
                    throw e;
                }
            };
        }
        return null;
    }

    private void requireLocalPush(RepositoryName name, MultiMap params) {
        if (upstreams.route(name, params.get("ns")).isPresent()) {
            registry.namespaces().requireWritable(name, "push to");
        }
    }

    private static boolean isWrite(HttpMethod method) {
        return !(method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD) || method.equals(HttpMethod.OPTIONS));
    }

    private static boolean expectsContinue(HttpServerRequest request) {
        return "100-continue".equalsIgnoreCase(request.getHeader("Expect"));
    }

    private static boolean hasBody(HttpMethod method) {
        return method.equals(HttpMethod.PUT) || method.equals(HttpMethod.PATCH) || method.equals(HttpMethod.POST);
    }

    private Reply dispatch(V2Route route, HttpServerRequest request, MultiMap params, InputStream body) throws IOException {
        HttpMethod method = request.method();
        RepositoryName name = route.name();
        String argument = route.argument();
        Optional<MirrorRoute> mirrored = name == null ? Optional.empty() : upstreams.route(name, params.get("ns"));
        if (mirrored.isPresent() && (method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD))) {
            return mirrored(route, mirrored.get(), method, request, params);
        }
        if (mirrored.isPresent()) {
            registry.namespaces().requireWritable(name, method.equals(HttpMethod.DELETE) ? "delete from" : "push to");
        }
        switch (route.kind()) {
            case BASE:
                if (method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD)) {
                    return Reply.json(200, "{}".getBytes(StandardCharsets.UTF_8), "application/json");
                }
                break;
            case CATALOG:
                if (method.equals(HttpMethod.GET)) {
                    Page page = registry.catalog(intParam(params, "n"), params.get("last"));
                    return page(page, "repositories", null, "/v2/_catalog");
                }
                break;
            case TAGS:
                if (method.equals(HttpMethod.GET)) {
                    Page page = registry.tags(name, intParam(params, "n"), params.get("last"));
                    return page(page, "tags", name, "/v2/" + name + "/tags/list");
                }
                break;
            case MANIFEST:
                return manifest(method, name, argument, request, body);
            case BLOB:
                return blob(method, name, RegistryService.parseDigest(argument), request);
            case UPLOADS:
                if (method.equals(HttpMethod.POST)) {
                    return startUpload(name, params);
                }
                break;
            case UPLOAD:
                return upload(method, name, argument);
            case REFERRERS:
                if (method.equals(HttpMethod.GET)) {
                    String artifactType = params.get("artifactType");
                    Reply reply = Reply.json(200, registry.referrers(name, RegistryService.parseDigest(argument), artifactType), MediaTypes.OCI_INDEX);
                    if (artifactType != null) {
                        reply.header(Headers.FILTERS_APPLIED, "artifactType");
                    }
                    return reply;
                }
                break;
        }
        throw new RegistryException(ErrorCode.UNSUPPORTED, 405, method + " is not supported on " + request.path(), null, Map.of());
    }

    private Reply mirrored(V2Route route, MirrorRoute upstream, HttpMethod method, HttpServerRequest request, MultiMap params)
            throws IOException {
        switch (route.kind()) {
            case MANIFEST: {
                MirrorService.ManifestAnswer answer = mirror.manifest(upstream, route.argument(), accepted(request));
                Reply reply = manifestReply(answer.location(), request);
                if (answer.stale()) {
                    reply.header("Warning", "110 kiln \"Response is Stale\"").header("X-Kiln-Cache", "stale");
                }
                return reply;
            }
            case BLOB: {
                Digest digest = RegistryService.parseDigest(route.argument());
                if (method.equals(HttpMethod.HEAD)) {
                    return Reply.status(200).header("Content-Length", mirror.blobSize(upstream, digest))
                            .header("Content-Type", "application/octet-stream")
                            .header(Headers.CONTENT_DIGEST, digest).withoutBody();
                }
                Object blob = mirror.blob(upstream, digest);
                if (blob instanceof StreamingBlob streaming) {
                    return Reply.stream(200, streaming.body(), streaming.size(), "application/octet-stream")
                            .header(Headers.CONTENT_DIGEST, digest);
                }
                return blobReply((BlobLocation) blob, request);
            }
            case TAGS:
                return Reply.json(200, mirror.tags(upstream, request.query()), "application/json");
            default:
                throw new RegistryException(ErrorCode.UNSUPPORTED, 404, route.kind() + " is not available for mirrored repositories", null, Map.of());
        }
    }

    private Reply manifest(HttpMethod method, RepositoryName name, String reference, HttpServerRequest request, InputStream body) throws IOException {
        if (method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD)) {
            return manifestReply(registry.manifest(name, reference, accepted(request)), request);
        }
        if (method.equals(HttpMethod.PUT)) {
            byte[] bytes = body.readNBytes(ManifestLimits.MAX_MANIFEST_BYTES + 1);
            ManifestPut put = registry.putManifest(name, reference, request.getHeader("Content-Type"), bytes);
            Reply reply = Reply.status(201)
                    .header("Location", "/v2/" + name + "/manifests/" + put.digest())
                    .header(Headers.CONTENT_DIGEST, put.digest());
            if (put.subject() != null) {
                reply.header(Headers.SUBJECT, put.subject());
            }
            return reply;
        }
        if (method.equals(HttpMethod.DELETE)) {
            registry.deleteManifest(name, reference);
            return Reply.status(202);
        }
        throw new RegistryException(ErrorCode.UNSUPPORTED, 405, method + " is not supported on manifests", null, Map.of());
    }

    private static List<String> accepted(HttpServerRequest request) {
        List<String> accepted = new ArrayList<>();
        for (String header : request.headers().getAll("Accept")) {
            for (String part : header.split(",")) {
                if (!part.isBlank()) {
                    accepted.add(part.trim());
                }
            }
        }
        return accepted;
    }

    private Reply blob(HttpMethod method, RepositoryName name, Digest digest, HttpServerRequest request) throws IOException {
        if (method.equals(HttpMethod.DELETE)) {
            registry.deleteBlob(name, digest);
            return Reply.status(202);
        }
        if (!method.equals(HttpMethod.GET) && !method.equals(HttpMethod.HEAD)) {
            throw new RegistryException(ErrorCode.UNSUPPORTED, 405, method + " is not supported on blobs", null, Map.of());
        }
        return blobReply(registry.blob(name, digest), request);
    }

    /** The store decides how the bytes travel (see {@link BlobBody}); a HEAD asks it for nothing. */
    private Reply blobReply(BlobLocation blob, HttpServerRequest request) throws IOException {
        Digest digest = blob.digest();
        if (!request.method().equals(HttpMethod.GET)) {
            return Reply.status(200).header("Content-Type", blob.mediaType()).header("Content-Length", blob.size())
                    .header(Headers.CONTENT_DIGEST, digest).header("Accept-Ranges", "bytes").withoutBody();
        }
        ByteRange range = ByteRange.forRead(request.getHeader("Range"), blob.size());
        BlobBody body = range == null
                ? registry.store().blobs().body(digest, 0, blob.size())
                : registry.store().blobs().body(digest, range.start(), range.length());
        if (body instanceof BlobBody.Redirect redirect) {
            // the client repeats its Range header to the object store, which answers it
            return Reply.status(307).header("Location", redirect.url()).header(Headers.CONTENT_DIGEST, digest);
        }
        Reply reply = range == null
                ? Reply.body(200, body, blob.mediaType())
                : Reply.body(206, body, blob.mediaType())
                        .header("Content-Range", "bytes " + range.start() + "-" + range.end() + "/" + blob.size());
        reply.digest = digest;
        return reply.header(Headers.CONTENT_DIGEST, digest).header("Accept-Ranges", "bytes");
    }

    /** Manifests are answered by the gateway itself, never redirected: their headers are the registry's word. */
    private Reply manifestReply(BlobLocation manifest, HttpServerRequest request) throws IOException {
        Reply reply;
        if (!request.method().equals(HttpMethod.GET)) {
            reply = Reply.status(200).header("Content-Type", manifest.mediaType()).header("Content-Length", manifest.size()).withoutBody();
        } else {
            BlobBody body = registry.store().blobs().body(manifest.digest(), 0, manifest.size());
            if (body instanceof BlobBody.Redirect) {
                body = new BlobBody.Stream(registry.store().blobs().open(manifest.digest(), 0), manifest.size());
            }
            reply = Reply.body(200, body, manifest.mediaType());
            reply.digest = manifest.digest();
        }
        return reply.header(Headers.CONTENT_DIGEST, manifest.digest());
    }

    private Reply startUpload(RepositoryName name, MultiMap params) throws IOException {
        String mount = params.get("mount");
        if (mount != null) {
            Digest digest = RegistryService.parseDigest(mount);
            RepositoryName from = repositoryParam(params.get("from"));
            Optional<Digest> mounted = registry.mount(name, digest, from);
            if (mounted.isPresent()) {
                return blobCreated(name, mounted.get());
            }
        }
        UploadState state = registry.startUpload(name);
        return uploadAccepted(state).header(Headers.CHUNK_MIN_LENGTH, 0);
    }

    private Reply upload(HttpMethod method, RepositoryName name, String id) throws IOException {
        if (method.equals(HttpMethod.GET)) {
            return uploadAccepted(registry.uploadStatus(name, id)).withStatus(204);
        }
        if (method.equals(HttpMethod.DELETE)) {
            registry.cancelUpload(name, id);
            return Reply.status(204);
        }
        throw new RegistryException(ErrorCode.UNSUPPORTED, 405, method + " is not supported on uploads", null, Map.of());
    }

    private static Reply blobCreated(RepositoryName name, Digest digest) {
        return Reply.status(201)
                .header("Location", "/v2/" + name + "/blobs/" + digest)
                .header(Headers.CONTENT_DIGEST, digest);
    }

    private static Reply uploadAccepted(UploadState state) {
        return Reply.status(202)
                .header("Location", state.location())
                .header("Range", state.range())
                .header(Headers.UPLOAD_UUID, state.id());
    }

    private static RepositoryName repositoryParam(String value) {
        if (value == null || value.isEmpty()) {
            return null;
        }
        try {
            return new RepositoryName(value);
        } catch (InvalidNameException e) {
            throw new RegistryException(ErrorCode.NAME_INVALID, e.getMessage(), Map.of("name", value));
        }
    }

    private static long contentLength(HttpServerRequest request) {
        String header = request.getHeader("Content-Length");
        if (header == null) {
            return -1;
        }
        try {
            return Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            throw new RegistryException(ErrorCode.SIZE_INVALID, "malformed Content-Length: " + header);
        }
    }

    private static Integer intParam(MultiMap params, String name) {
        String value = params.get(name);
        if (value == null || value.isEmpty()) {
            return null;
        }
        try {
            int n = Integer.parseInt(value);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new RegistryException(ErrorCode.UNSUPPORTED, 400, "query parameter " + name + " must be a non-negative integer", null, Map.of());
        }
    }

    private static Reply page(Page page, String field, RepositoryName name, String path) {
        ObjectNode json = JSON.createObjectNode();
        if (name != null) {
            json.put("name", name.value());
        }
        ArrayNode items = json.putArray(field);
        page.items().forEach(items::add);
        Reply reply;
        try {
            reply = Reply.json(200, JSON.writeValueAsBytes(json), "application/json");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        if (page.next() != null) {
            reply.header("Link", "<" + path + "?n=" + page.items().size() + "&last="
                    + URLEncoder.encode(page.next(), StandardCharsets.UTF_8) + ">; rel=\"next\"");
        }
        return reply;
    }

    private void send(HttpServerRequest request, HttpServerResponse response, Reply reply) {
        response.setStatusCode(reply.status);
        reply.headers.forEach(response::putHeader);
        drainUnreadBody(request);
        if (reply.stream != null) {
            if (reply.length >= 0) {
                response.putHeader("Content-Length", Long.toString(reply.length));
            } else {
                response.setChunked(true);
            }
            if (request.method().equals(HttpMethod.HEAD)) {
                closeQuietly(reply.stream);
                response.end();
            } else {
                ResponsePump.start(request, response, reply.stream);
            }
        } else if (reply.file != null) {
            if (reply.digest != null) {
                Runnable release = leases.acquire(reply.digest);
                response.endHandler(v -> release.run());
                response.closeHandler(v -> release.run());
            }
            response.putHeader("Content-Length", Long.toString(reply.length));
            if (reply.length == 0) {
                response.end();
            } else {
                response.sendFile(reply.file.toString(), reply.offset, reply.length);
            }
        } else if (reply.noBody) {
            response.end();
        } else if (reply.body != null && !request.method().equals(HttpMethod.HEAD)) {
            response.end(io.vertx.core.buffer.Buffer.buffer(reply.body));
        } else {
            if (reply.body != null) {
                response.putHeader("Content-Length", Integer.toString(reply.body.length));
            } else {
                response.putHeader("Content-Length", "0");
            }
            response.end();
        }
    }

    private static void closeQuietly(InputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // nothing was read from it
        }
    }

    private void sendError(HttpServerRequest request, HttpServerResponse response, RegistryException e) {
        boolean upstreamTrouble = e.status() == 502 || e.status() == 503 || e.status() == 504;
        if (upstreamTrouble) {
            // the reason is the upstream's, not a bug here: one line per request, no stack trace
            LOG.warnf("%s %s: %d %s", request.method(), request.path(), e.status(), e.getMessage());
        } else if (e.status() >= 500) {
            LOG.errorf(e, "%s %s failed", request.method(), request.path());
        } else {
            LOG.debugf("%s %s: %s %s", request.method(), request.path(), e.code(), e.getMessage());
        }
        if (response.ended()) {
            return;
        }
        ObjectNode error = JSON.createObjectNode();
        error.put("code", e.code().name());
        error.put("message", e.getMessage());
        if (e.detail() != null) {
            error.set("detail", JSON.valueToTree(e.detail()));
        }
        ObjectNode root = JSON.createObjectNode();
        root.putArray("errors").add(error);
        Reply reply;
        try {
            reply = Reply.json(e.status(), JSON.writeValueAsBytes(root), "application/json");
        } catch (IOException impossible) {
            throw new IllegalStateException(impossible);
        }
        e.headers().forEach(reply::header);
        if (upstreamTrouble) {
            // skopeo, podman and containerd print the status line, not the JSON body: carry the reason there too
            response.setStatusMessage(statusLine(HttpResponseStatus.valueOf(e.status()).reasonPhrase() + ": " + e.getMessage()));
        }
        send(request, response, reply);
    }

    /** A reason phrase is one line of visible ASCII; long upstream messages are cut. */
    static String statusLine(String text) {
        String visible = text.replaceAll("[^\\x20-\\x7e]+", " ").strip();
        return visible.length() <= 200 ? visible : visible.substring(0, 197) + "...";
    }

    /** Reads and drops whatever the client still sends, so an early answer does not stall the connection. */
    static void drainUnreadBody(HttpServerRequest request) {
        if (!request.isEnded()) {
            request.handler(buffer -> { });
            request.exceptionHandler(t -> { });
            request.endHandler(v -> { });
            request.resume();
        }
    }

    private static RegistryException asRegistryException(Throwable t) {
        if (t instanceof RegistryException e) {
            return e;
        }
        if (t instanceof StoreWriteException || diskFull(t)) {
            return new RegistryException(ErrorCode.UNKNOWN, 507, "the store could not write the content, nothing was kept: "
                    + t.getMessage(), null, Map.of());
        }
        if (t instanceof IOException && t.getMessage() != null && t.getMessage().startsWith("request body interrupted")) {
            return new RegistryException(ErrorCode.BLOB_UPLOAD_INVALID, "the request body ended early: " + t.getMessage());
        }
        LOG.error("unexpected failure", t);
        // the log has the exception; a client learns nothing about the gateway's insides from it
        return new RegistryException(ErrorCode.UNKNOWN, 500, "internal error", null, Map.of());
    }

    /** Whether {@code t} or a cause is the file system saying it is full (ENOSPC, EDQUOT). */
    static boolean diskFull(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            String message = c.getMessage();
            if (c instanceof StoreWriteException
                    || message != null && (message.contains("No space left on device") || message.contains("Disk quota exceeded"))) {
                return true;
            }
        }
        return false;
    }
}
