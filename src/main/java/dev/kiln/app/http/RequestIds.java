package dev.kiln.app.http;

import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;
import org.jboss.logging.MDC;

/**
 * Every request gets an id: the caller's {@code X-Request-Id} when it is well-formed (a proxy in
 * front may have logged it already), else a new one. It is sent back in the response, written by
 * the access log, and put in the logging context, so the lines a request causes (an upstream fetch,
 * a build's queued line) name it too.
 */
@ApplicationScoped
public class RequestIds {
    public static final String HEADER = "X-Request-Id";
    public static final String MDC_KEY = "requestId";
    /** Short enough for a log line, and nothing a log reader or a format string could trip on. */
    private static final Pattern WELL_FORMED = Pattern.compile("[A-Za-z0-9._:-]{1,64}");
    private static final SecureRandom RANDOM = new SecureRandom();

    void install(@Observes Router router) {
        router.route().order(-1000).handler(this::handle);
    }

    void handle(RoutingContext ctx) {
        String id = chosen(ctx.request().getHeader(HEADER));
        // the access log reads it from the request; clients read it from the response
        ctx.request().headers().set(HEADER, id);
        ctx.response().putHeader(HEADER, id);
        MDC.put(MDC_KEY, id); // Quarkus keeps the MDC in the request's Vert.x context, workers included
        ctx.next();
    }

    /** {@code executor}, running each task with the request id of the thread that handed it over. */
    public static java.util.concurrent.Executor propagating(java.util.concurrent.Executor executor) {
        return task -> {
            Object id = MDC.get(MDC_KEY);
            executor.execute(() -> {
                if (id == null) {
                    MDC.remove(MDC_KEY);
                } else {
                    MDC.put(MDC_KEY, id);
                }
                try {
                    task.run();
                } finally {
                    MDC.remove(MDC_KEY);
                }
            });
        };
    }

    /** The incoming id when it is well-formed, else a new random one. */
    static String chosen(String incoming) {
        if (incoming != null && WELL_FORMED.matcher(incoming).matches()) {
            return incoming;
        }
        byte[] bytes = new byte[8];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}
