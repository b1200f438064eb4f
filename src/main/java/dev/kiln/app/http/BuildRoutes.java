package dev.kiln.app.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.builder.gateway.BuildRecord;
import dev.kiln.builder.gateway.BuildRequestException;
import dev.kiln.builder.gateway.BuildRunner;
import dev.kiln.builder.gateway.BuildService;
import dev.kiln.builder.gateway.BuildSpec;
import dev.kiln.builder.gateway.BuildState;
import dev.kiln.builder.gateway.ContextTokens;
import dev.kiln.builder.gateway.CredentialScope;
import dev.kiln.registry.client.Credentials;
import dev.kiln.registry.spec.RegistryException;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The build API, {@code /api/v1/builds}, on Vert.x routes so an uploaded context streams to disk
 * with back-pressure and a log can be followed as server-sent events. Every error is an RFC 9457
 * problem document. The work is done by {@link BuildService}; this class only speaks HTTP.
 */
@ApplicationScoped
public class BuildRoutes {
    static final String PREFIX = "/api/v1";
    private static final Logger LOG = Logger.getLogger(BuildRoutes.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern BUILD = Pattern.compile("/api/v1/builds/([^/]+)(/log)?/?");
    private static final Pattern CONTEXT = Pattern.compile("/api/v1/builds/([^/]+)/context");
    private static final int MAX_JSON_BYTES = 1 << 20;
    private static final Set<String> ARCHIVE_TYPES = Set.of("application/gzip", "application/x-gzip", "application/x-tar",
            "application/tar", "application/tar+gzip", "application/zstd", "application/octet-stream");
    private static final Set<String> QUERY_PARAMETERS = Set.of("dockerfile", "target", "platform", "cache", "destination",
            "buildArg", "label");
    private static final Set<String> JSON_FIELDS = Set.of("context", "dockerfile", "target", "platform", "cache",
            "destinations", "buildArgs", "labels");

    private static final byte[] OPENAPI = readOpenApi();

    @Inject
    BuildService builds;

    @Inject
    AccessControl access;

    @Inject
    ContextTokens contextTokens;

    @Inject
    UploadSlots slots;

    @Inject
    CredentialScope credentialScope;

    @Inject
    DashboardRoutes dashboard;

    void install(@Observes Router router) {
        router.route().pathRegex("/api/v1(?:/.*)?").order(-100).handler(this::handle).failureHandler(ctx -> {
            // what Vert.x refuses before the handler (no Host header) or a handler throws: a problem document too
            if (!ctx.response().ended()) {
                Throwable failure = ctx.failure();
                if (failure == null || ctx.statusCode() >= 400 && ctx.statusCode() < 500 && !(failure instanceof BuildRequestException)) {
                    failure = BuildRequestException.invalidSpec(ctx.request().getHeader("Host") == null
                            ? "HTTP/1.1 requests must carry a Host header" : "the request is malformed");
                }
                fail(ctx.request(), ctx.response(), failure);
            }
        });
    }

    void handle(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        request.pause();
        HttpServerResponse response = ctx.response();
        String path = request.path();
        HttpMethod method = request.method();
        try {
            if (path.equals(PREFIX + "/openapi.yaml")) {
                if (!method.equals(HttpMethod.GET)) {
                    throw notAllowed(method, path);
                }
                openApi(response);
                return;
            }
            if (path.equals(PREFIX + "/summary")) {
                dashboard.summary(ctx);
                return;
            }
            if (!path.startsWith(PREFIX + "/builds")) {
                throw new BuildRequestException(404, "not-found", "Not found", "no such endpoint: " + path);
            }
            Matcher contextPath = CONTEXT.matcher(path);
            if (contextPath.matches()) {
                if (!method.equals(HttpMethod.GET)) {
                    throw notAllowed(method, path);
                }
                context(ctx, contextPath.group(1)); // its one-time token is the credential: a build pod has no user
                return;
            }
            access.authenticate(ctx.vertx(), request.getHeader("Authorization"), RegistryRoutes.client(request), AccessControl.Need.WRITE)
                    .onComplete(caller -> {
                        if (caller.failed()) {
                            refuse(request, response, caller.cause());
                            return;
                        }
                        try {
                            authorized(ctx, caller.result());
                        } catch (RuntimeException e) {
                            refuse(request, response, e);
                        }
                    });
        } catch (RuntimeException e) {
            refuse(request, response, e);
        }
    }

    private static void refuse(HttpServerRequest request, HttpServerResponse response, Throwable e) {
        if ("100-continue".equalsIgnoreCase(request.getHeader("Expect"))) {
            // the client holds its body back until told to send it: answer, then close rather than wait for it
            response.putHeader("Connection", "close");
            response.endHandler(v -> request.connection().close());
        }
        fail(request, response, e);
    }

    /**
     * A build is its submitter's: another user's build answers 404 as if it did not exist, so ids
     * cannot be probed; admins ({@code kiln.auth.admins}) see every build.
     */
    private BuildRecord visible(String id, AccessControl.Caller caller) {
        BuildRecord record = builds.require(id);
        if (!caller.owns(record.owner())) {
            throw BuildRequestException.notFound(id);
        }
        return record;
    }

    private void authorized(RoutingContext ctx, AccessControl.Caller caller) {
        HttpServerRequest request = ctx.request();
        HttpServerResponse response = ctx.response();
        String path = request.path();
        HttpMethod method = request.method();
        {
            if (path.equals(PREFIX + "/builds") || path.equals(PREFIX + "/builds/")) {
                if (method.equals(HttpMethod.POST)) {
                    submit(ctx);
                } else if (method.equals(HttpMethod.GET)) {
                    blocking(ctx, () -> list(request.params(), caller), 200);
                } else {
                    throw notAllowed(method, path);
                }
                return;
            }
            Matcher m = BUILD.matcher(path);
            if (!m.matches()) {
                throw new BuildRequestException(404, "not-found", "Not found", "no such endpoint: " + path);
            }
            String id = m.group(1);
            if (m.group(2) != null) {
                if (!method.equals(HttpMethod.GET)) {
                    throw notAllowed(method, path);
                }
                visible(id, caller);
                log(ctx, id);
            } else if (method.equals(HttpMethod.GET)) {
                blocking(ctx, () -> view(visible(id, caller)), 200);
            } else if (method.equals(HttpMethod.DELETE)) {
                visible(id, caller);
                ctx.vertx().executeBlocking(() -> builds.cancel(id), false).onComplete(result -> {
                    if (result.failed()) {
                        fail(request, response, result.cause());
                    } else {
                        BuildRecord record = result.result();
                        json(request, response, record.state().ended() ? 200 : 202, view(record));
                    }
                });
            } else {
                throw notAllowed(method, path);
            }
        }
    }

    private interface Work {
        ObjectNode run() throws IOException;
    }

    private void blocking(RoutingContext ctx, Work work, int status) {
        ctx.vertx().executeBlocking(work::run, false).onComplete(result -> {
            if (result.failed()) {
                fail(ctx.request(), ctx.response(), result.cause());
            } else {
                json(ctx.request(), ctx.response(), status, result.result());
            }
        });
    }

    private void submit(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        String type = mediaType(request.getHeader("Content-Type"));
        boolean jsonSpec = type.equals("application/json");
        if (!jsonSpec && !type.isEmpty() && !ARCHIVE_TYPES.contains(type)) {
            throw new BuildRequestException(415, "unsupported-media-type", "Unsupported media type",
                    "send the context as application/gzip (a tar.gz) with the build parameters in the query, "
                            + "or application/json with a context URL; got " + type);
        }
        long declared = declaredLength(request);
        long limit = jsonSpec ? MAX_JSON_BYTES : builds.maxContextBytes();
        if (declared > limit) {
            throw jsonSpec ? BuildRequestException.invalidSpec("the JSON build request is larger than " + limit + " bytes")
                    : BuildRequestException.contextTooLarge(limit);
        }
        BuildSpec querySpec = jsonSpec ? null : specFromQuery(request.params());
        BuildRunner.Caller caller = caller(request);
        if (request.version() != HttpVersion.HTTP_1_0 && "100-continue".equalsIgnoreCase(request.getHeader("Expect"))) {
            request.response().writeContinue();
        }
        if (jsonSpec) {
            SegmentedBody.whole(request, MAX_JSON_BYTES).onComplete(body -> {
                if (body.failed()) {
                    fail(request, ctx.response(), body.cause());
                } else if (body.result().length > MAX_JSON_BYTES) {
                    fail(request, ctx.response(), BuildRequestException.invalidSpec("the JSON build request is larger than " + MAX_JSON_BYTES + " bytes"));
                } else {
                    accept(ctx, () -> {
                        BuildSpec spec = specFromJson(new ByteArrayInputStream(body.result()));
                        checkDestinations(spec, caller);
                        return builds.submit(spec, caller);
                    });
                }
            });
            return;
        }
        querySpec.withContext(null).validated();
        checkDestinations(querySpec, caller);
        Runnable release = slots.acquire(RegistryRoutes.client(request));
        ContextSpool.receive(ctx.vertx(), request, builds.newUpload(), builds.maxContextBytes()).onComplete(spooled -> {
            release.run();
            if (spooled.failed()) {
                fail(request, ctx.response(), spooled.cause());
            } else {
                accept(ctx, () -> builds.submitUploaded(querySpec, spooled.result(), caller));
            }
        });
    }

    private void checkDestinations(BuildSpec spec, BuildRunner.Caller caller) {
        String user = caller.credentials() == null ? null : caller.credentials().username();
        credentialScope.checkDestinations(user, spec.destinations(), caller.gatewayHosts());
        credentialScope.checkContext(user, spec.context());
    }

    private interface Submission {
        BuildRecord run() throws IOException;
    }

    private record Accepted(BuildRecord record, ObjectNode view, java.nio.file.Path log) {
    }

    /**
     * Answers a build {@code submission} accepted: {@code 202} with its record, or, when the client
     * asked for {@code text/event-stream}, {@code 202} with the build's log followed to its end on
     * this same response (an {@code accepted} event with the record first), so that a client needs
     * one request, not a POST, then a GET of the log. Closing that stream does not cancel the build.
     */
    private void accept(RoutingContext ctx, Submission submission) {
        HttpServerRequest request = ctx.request();
        HttpServerResponse response = ctx.response();
        boolean follow = wantsEvents(request);
        ctx.vertx().executeBlocking(() -> {
            BuildRecord record = submission.run();
            return new Accepted(record, view(record), follow ? builds.logFile(record.id()) : null);
        }, false).onComplete(result -> {
            if (result.failed()) {
                fail(request, response, result.cause());
                return;
            }
            Accepted accepted = result.result();
            response.putHeader("Location", PREFIX + "/builds/" + accepted.record().id());
            if (follow) {
                RegistryRoutes.drainUnreadBody(request);
                response.setStatusCode(202);
                LogEvents.followSubmitted(ctx.vertx(), response, builds, accepted.record().id(), accepted.log(),
                        accepted.view().toString());
            } else {
                json(request, response, 202, accepted.view());
            }
        });
    }

    private static boolean wantsEvents(HttpServerRequest request) {
        String accept = request.getHeader("Accept");
        return accept != null && accept.toLowerCase(Locale.ROOT).contains("text/event-stream");
    }

    private ObjectNode list(MultiMap params, AccessControl.Caller caller) {
        String stateName = params.get("state");
        BuildState state = null;
        if (stateName != null) {
            state = BuildState.ofWireName(stateName);
            if (state == null) {
                throw BuildRequestException.invalidSpec("state must be one of queued, running, succeeded, failed, cancelled; not "
                        + stateName);
            }
        }
        ObjectNode root = JSON.createObjectNode();
        var array = root.putArray("builds");
        for (BuildRecord record : builds.list(state)) {
            if (caller.owns(record.owner())) {
                array.add(view(record));
            }
        }
        return root;
    }

    private ObjectNode view(BuildRecord record) {
        ObjectNode node = record.toJson();
        int position = builds.queuePosition(record.id());
        if (position > 0) {
            node.put("queuePosition", position);
        } else {
            node.putNull("queuePosition");
        }
        ObjectNode links = node.putObject("links");
        links.put("self", PREFIX + "/builds/" + record.id());
        links.put("log", PREFIX + "/builds/" + record.id() + "/log");
        return node;
    }

    private void log(RoutingContext ctx, String id) {
        HttpServerRequest request = ctx.request();
        HttpServerResponse response = ctx.response();
        boolean events = wantsEvents(request);
        ctx.vertx().executeBlocking(() -> {
            java.nio.file.Path file = builds.logFile(id);
            return new Object[] {file, java.nio.file.Files.exists(file) ? java.nio.file.Files.size(file) : 0L};
        }, false).onComplete(result -> {
            if (result.failed()) {
                fail(request, response, result.cause());
                return;
            }
            java.nio.file.Path file = (java.nio.file.Path) result.result()[0];
            long size = (Long) result.result()[1];
            if (events) {
                LogEvents.follow(ctx.vertx(), response, builds, id, file, lastEventId(request));
                return;
            }
            response.putHeader("Content-Type", "text/plain; charset=utf-8");
            response.putHeader("Content-Length", Long.toString(size));
            if (size == 0) {
                response.end();
            } else {
                response.sendFile(file.toString(), 0, size);
            }
        });
    }

    /** The uploaded context, once, to the build pod holding the build's token; the token is used up when every byte went out. */
    private void context(RoutingContext ctx, String id) {
        HttpServerRequest request = ctx.request();
        HttpServerResponse response = ctx.response();
        String token = request.getParam("token");
        ctx.vertx().executeBlocking(() -> contextTokens.open(id, token), false).onComplete(opened -> {
            if (opened.failed()) {
                fail(request, response, opened.cause());
                return;
            }
            ContextTokens.Download download = opened.result();
            RegistryRoutes.drainUnreadBody(request);
            response.putHeader("Content-Type", "application/octet-stream");
            response.putHeader("Content-Length", Long.toString(download.size()));
            response.putHeader("Cache-Control", "no-store");
            response.sendFile(download.archive().toString(), 0, download.size()).onComplete(sent -> {
                if (sent.succeeded()) {
                    ctx.vertx().executeBlocking(() -> {
                        download.consumed();
                        return null;
                    }, false);
                } else {
                    download.release();
                }
            });
        });
    }

    private static long lastEventId(HttpServerRequest request) {
        String value = request.getHeader("Last-Event-ID");
        try {
            return value == null ? 0 : Math.max(0, Long.parseLong(value.trim()));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static BuildSpec specFromQuery(MultiMap params) {
        for (String name : params.names()) {
            if (!QUERY_PARAMETERS.contains(name)) {
                throw BuildRequestException.invalidSpec("unknown query parameter " + name + " (known: "
                        + String.join(", ", new java.util.TreeSet<>(QUERY_PARAMETERS)) + ")");
            }
        }
        return new BuildSpec(null, params.get("dockerfile"), pairs(params.getAll("buildArg"), "buildArg"),
                params.get("target"), pairs(params.getAll("label"), "label"), params.getAll("destination"),
                bool(params.get("cache"), "cache"), params.get("platform"));
    }

    private static BuildSpec specFromJson(InputStream body) throws IOException {
        byte[] bytes = body.readNBytes(MAX_JSON_BYTES + 1);
        if (bytes.length > MAX_JSON_BYTES) {
            throw BuildRequestException.invalidSpec("the JSON build request is larger than " + MAX_JSON_BYTES + " bytes");
        }
        JsonNode n;
        try {
            n = JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw BuildRequestException.invalidSpec("the body is not valid JSON: " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) {
            throw BuildRequestException.invalidSpec("the body must be a JSON object");
        }
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!JSON_FIELDS.contains(field)) {
                throw BuildRequestException.invalidSpec("unknown field " + field + " (known: "
                        + String.join(", ", new java.util.TreeSet<>(JSON_FIELDS)) + ")");
            }
        }
        JsonNode cache = n.get("cache");
        if (cache != null && !cache.isNull() && !cache.isBoolean()) {
            throw BuildRequestException.invalidSpec("cache must be true or false");
        }
        return new BuildSpec(text(n, "context"), text(n, "dockerfile"), stringMap(n, "buildArgs"), text(n, "target"),
                stringMap(n, "labels"), stringList(n, "destinations"), cache != null && cache.asBoolean(), text(n, "platform"));
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw BuildRequestException.invalidSpec(field + " must be a string");
        }
        return v.asText();
    }

    private static Map<String, String> stringMap(JsonNode n, String field) {
        JsonNode v = n.get(field);
        Map<String, String> map = new LinkedHashMap<>();
        if (v == null || v.isNull()) {
            return map;
        }
        if (!v.isObject()) {
            throw BuildRequestException.invalidSpec(field + " must be an object of strings");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw BuildRequestException.invalidSpec(field + "." + e.getKey() + " must be a string");
            }
            map.put(e.getKey(), e.getValue().asText());
        }
        return map;
    }

    private static List<String> stringList(JsonNode n, String field) {
        JsonNode v = n.get(field);
        List<String> list = new ArrayList<>();
        if (v == null || v.isNull()) {
            return list;
        }
        if (!v.isArray()) {
            throw BuildRequestException.invalidSpec(field + " must be an array of strings");
        }
        for (JsonNode item : v) {
            if (!item.isTextual()) {
                throw BuildRequestException.invalidSpec(field + " must be an array of strings");
            }
            list.add(item.asText());
        }
        return list;
    }

    private static Map<String, String> pairs(List<String> values, String parameter) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String value : values) {
            int eq = value.indexOf('=');
            if (eq <= 0) {
                throw BuildRequestException.invalidSpec(parameter + " must be KEY=VALUE, not " + value);
            }
            map.put(value.substring(0, eq), value.substring(eq + 1));
        }
        return map;
    }

    private static boolean bool(String value, String parameter) {
        if (value == null || value.equals("false")) {
            return false;
        }
        if (value.equals("true") || value.isEmpty()) {
            return true;
        }
        throw BuildRequestException.invalidSpec(parameter + " must be true or false, not " + value);
    }

    /**
     * How this client reaches the gateway (its Host header, and loopback on the port it connected
     * to) and the credentials it authenticated with, so the build can push into the gateway as them.
     */
    private BuildRunner.Caller caller(HttpServerRequest request) {
        Set<String> hosts = new LinkedHashSet<>();
        hosts.add("127.0.0.1:" + request.localAddress().port());
        hosts.add("localhost:" + request.localAddress().port());
        String host = request.getHeader("Host");
        if (host != null && !host.isBlank()) {
            hosts.add(host.trim());
            if (!host.contains(":")) {
                hosts.add(host.trim() + ":80");
            }
        }
        return new BuildRunner.Caller(new ArrayList<>(hosts), access.enabled() ? basic(request.getHeader("Authorization")) : null);
    }

    private static Credentials basic(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Basic ", 0, 6)) {
            return null;
        }
        String decoded = new String(Base64.getDecoder().decode(authorization.substring(6).trim()), StandardCharsets.UTF_8);
        int colon = decoded.indexOf(':');
        return colon < 0 ? null : new Credentials(decoded.substring(0, colon), decoded.substring(colon + 1));
    }

    private static long declaredLength(HttpServerRequest request) {
        String length = request.getHeader("Content-Length");
        try {
            return length == null ? -1 : Long.parseLong(length.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String mediaType(String contentType) {
        if (contentType == null) {
            return "";
        }
        int semicolon = contentType.indexOf(';');
        return (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
    }

    private static BuildRequestException notAllowed(HttpMethod method, String path) {
        return new BuildRequestException(405, "method-not-allowed", "Method not allowed", method + " is not supported on " + path);
    }

    private void openApi(HttpServerResponse response) {
        response.putHeader("Content-Type", "application/yaml; charset=utf-8").end(Buffer.buffer(OPENAPI));
    }

    private static byte[] readOpenApi() {
        try (InputStream in = BuildRoutes.class.getResourceAsStream("/kiln/openapi.yaml")) {
            if (in == null) {
                throw new IllegalStateException("kiln/openapi.yaml is missing from the jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void json(HttpServerRequest request, HttpServerResponse response, int status, ObjectNode body) {
        RegistryRoutes.drainUnreadBody(request);
        try {
            response.setStatusCode(status).putHeader("Content-Type", "application/json")
                    .end(Buffer.buffer(JSON.writeValueAsBytes(body)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static void fail(HttpServerRequest request, HttpServerResponse response, Throwable failure) {
        Throwable t = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        ObjectNode problem = JSON.createObjectNode();
        int status;
        if (t instanceof BuildRequestException e) {
            status = e.status();
            problem.put("type", PREFIX + "/problems/" + e.slug()).put("title", e.title());
        } else if (t instanceof RegistryException e && e.status() == 401) {
            status = 401;
            problem.put("type", PREFIX + "/problems/unauthorized").put("title", "Authentication required");
            e.headers().forEach(response::putHeader);
        } else if (t instanceof RegistryException e && e.status() == 429) {
            status = 429;
            problem.put("type", PREFIX + "/problems/too-many-requests").put("title", "Too many requests");
            e.headers().forEach(response::putHeader);
        } else if (t instanceof IOException && t.getMessage() != null && t.getMessage().startsWith("request body interrupted")) {
            status = 400;
            problem.put("type", PREFIX + "/problems/broken-context").put("title", "Broken build context");
        } else if (RegistryRoutes.diskFull(t)) {
            LOG.warnf("%s %s: the disk is full: %s", request.method(), request.path(), t.getMessage());
            status = 507;
            problem.put("type", PREFIX + "/problems/insufficient-storage").put("title", "Insufficient storage");
            t = new IOException("the gateway's disk is full; nothing was kept, submit again later");
        } else {
            LOG.errorf(t, "%s %s failed", request.method(), request.path());
            status = 500;
            problem.put("type", "about:blank").put("title", "Internal error");
            t = new IOException("internal error; the gateway's log has the details");
        }
        problem.put("status", status).put("detail", t.getMessage() == null ? "" : t.getMessage())
                .put("instance", request.path());
        if (response.ended()) {
            return;
        }
        RegistryRoutes.drainUnreadBody(request);
        response.headers().remove("Location");
        try {
            response.setStatusCode(status).putHeader("Content-Type", "application/problem+json")
                    .end(Buffer.buffer(JSON.writeValueAsBytes(problem)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
