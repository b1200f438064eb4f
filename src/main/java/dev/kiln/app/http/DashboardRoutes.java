package dev.kiln.app.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.app.wiring.DashboardSummary;
import dev.kiln.builder.gateway.BuildRequestException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The dashboard: {@code /} and its script and style under {@code /dashboard/}, and the JSON it
 * draws, {@code /api/v1/summary}. Its credentials are a pull's: open while anonymous pulls are, a
 * valid user otherwise; a caller sees only the builds the build API would show them (so an anonymous
 * caller sees the mirror and the store, and no builds). The files are read from the jar once; the
 * page loads nothing from anywhere else ({@code Content-Security-Policy: default-src 'self'}).
 */
@ApplicationScoped
public class DashboardRoutes {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";
    private static final Map<String, Asset> ASSETS = Map.of(
            "/", asset("index.html", "text/html; charset=utf-8"),
            "/dashboard/dashboard.js", asset("dashboard.js", "text/javascript; charset=utf-8"),
            "/dashboard/dashboard.css", asset("dashboard.css", "text/css; charset=utf-8"),
            "/favicon.ico", asset("favicon.svg", "image/svg+xml"));

    private record Asset(byte[] bytes, String type) {
    }

    @Inject
    AccessControl access;

    @Inject
    DashboardSummary summary;

    void install(@Observes Router router) {
        router.route().pathRegex("/|/favicon\\.ico|/dashboard/.*").order(-100).handler(this::page);
    }

    void page(RoutingContext ctx) {
        HttpServerResponse response = ctx.response();
        Asset asset = ASSETS.get(ctx.normalizedPath());
        if (asset == null) {
            BuildRoutes.fail(ctx.request(), response, new BuildRequestException(404, "not-found", "Not found",
                    "no such page: " + ctx.normalizedPath()));
            return;
        }
        if (!ctx.request().method().equals(HttpMethod.GET) && !ctx.request().method().equals(HttpMethod.HEAD)) {
            response.putHeader("Allow", "GET, HEAD");
            BuildRoutes.fail(ctx.request(), response, new BuildRequestException(405, "method-not-allowed", "Method not allowed",
                    ctx.request().method() + " is not supported on " + ctx.normalizedPath()));
            return;
        }
        authenticated(ctx, caller -> response.putHeader("Content-Type", asset.type())
                .putHeader("Cache-Control", "no-cache")
                .putHeader("X-Content-Type-Options", "nosniff")
                .putHeader("Content-Security-Policy", CSP)
                .end(Buffer.buffer(asset.bytes())));
    }

    /** {@code GET /api/v1/summary}, reached through the build API's route so that prefix keeps one error personality. */
    void summary(RoutingContext ctx) {
        if (!ctx.request().method().equals(HttpMethod.GET)) {
            throw new BuildRequestException(405, "method-not-allowed", "Method not allowed",
                    ctx.request().method() + " is not supported on " + ctx.request().path());
        }
        authenticated(ctx, caller -> ctx.vertx().executeBlocking(() -> JSON.writeValueAsBytes(summary.summary(
                record -> caller.owns(record.owner()))), false).onComplete(json -> {
                    if (json.failed()) {
                        BuildRoutes.fail(ctx.request(), ctx.response(), json.cause());
                    } else {
                        ctx.response().putHeader("Content-Type", "application/json").putHeader("Cache-Control", "no-store")
                                .end(Buffer.buffer(json.result()));
                    }
                }));
    }

    private void authenticated(RoutingContext ctx, java.util.function.Consumer<AccessControl.Caller> then) {
        access.authenticate(ctx.vertx(), ctx.request().getHeader("Authorization"), RegistryRoutes.client(ctx.request()),
                AccessControl.Need.READ).onComplete(caller -> {
                    if (caller.failed()) {
                        BuildRoutes.fail(ctx.request(), ctx.response(), caller.cause());
                    } else {
                        then.accept(caller.result());
                    }
                });
    }

    private static Asset asset(String name, String type) {
        try (InputStream in = DashboardRoutes.class.getResourceAsStream("/kiln/dashboard/" + name)) {
            if (in == null) {
                throw new IllegalStateException("kiln/dashboard/" + name + " is missing from the jar");
            }
            return new Asset(in.readAllBytes(), type);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
