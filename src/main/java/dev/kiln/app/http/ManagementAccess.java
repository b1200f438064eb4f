package dev.kiln.app.http;

import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.Set;

/**
 * {@code /q/metrics}, {@code /q/health} and the rest of {@code /q/} need the same credentials as a
 * pull: open while anonymous pulls are, a valid user otherwise. The two probes the Kubernetes
 * manifests use stay open, since a kubelet sends no credentials; they tell only up or down.
 */
@ApplicationScoped
public class ManagementAccess {
    static final Set<String> PROBES = Set.of("/q/health/live", "/q/health/ready", "/q/health/live/", "/q/health/ready/");

    @Inject
    AccessControl access;

    void install(@Observes Router router) {
        router.route().pathRegex("/q(/.*)?").order(-100).handler(this::handle);
    }

    void handle(RoutingContext ctx) {
        if (PROBES.contains(ctx.normalizedPath()) || !access.enabled()) {
            ctx.next();
            return;
        }
        access.authenticate(ctx.vertx(), ctx.request().getHeader("Authorization"), RegistryRoutes.client(ctx.request()),
                AccessControl.Need.READ).onComplete(caller -> {
                    if (caller.succeeded()) {
                        ctx.next();
                    } else {
                        BuildRoutes.fail(ctx.request(), ctx.response(), caller.cause());
                    }
                });
    }
}
