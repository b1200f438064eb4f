package dev.kiln.app.http;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.io.IOException;
import java.io.InputStream;
import org.jboss.logging.Logger;

/**
 * Copies a blocking stream into a response from a worker thread, waiting whenever the client reads
 * slower than the source. A source that fails midway resets the connection, so the client sees a
 * broken transfer instead of a body that merely looks short.
 */
final class ResponsePump {
    private static final Logger LOG = Logger.getLogger(ResponsePump.class);
    private static final int CHUNK = 256 * 1024;

    private final HttpServerResponse response;
    private final InputStream source;
    private final Object drained = new Object();
    private volatile boolean closed;

    private ResponsePump(HttpServerResponse response, InputStream source) {
        this.response = response;
        this.source = source;
    }

    /** Called on the event loop with headers set; returns at once, the copy runs on a worker. */
    static void start(HttpServerRequest request, HttpServerResponse response, InputStream source) {
        ResponsePump pump = new ResponsePump(response, source);
        response.closeHandler(v -> pump.clientGone());
        response.drainHandler(v -> pump.signal());
        Context context = Vertx.currentContext();
        context.owner().executeBlocking(() -> {
            pump.run();
            return null;
        }, false);
    }

    private void clientGone() {
        closed = true;
        signal();
    }

    private void signal() {
        synchronized (drained) {
            drained.notifyAll();
        }
    }

    private void run() {
        byte[] buffer = new byte[CHUNK];
        try (InputStream in = source) {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                if (closed) {
                    return;
                }
                if (n == 0) {
                    continue;
                }
                response.write(Buffer.buffer(java.util.Arrays.copyOf(buffer, n)));
                synchronized (drained) {
                    while (response.writeQueueFull() && !closed) {
                        drained.wait(1000);
                    }
                }
            }
            if (!closed) {
                response.end();
            }
        } catch (IOException e) {
            LOG.warnf("aborting a streamed response: %s", e.getMessage());
            response.reset();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            response.reset();
        } catch (RuntimeException e) {
            LOG.warn("streaming a response failed", e);
            response.reset();
        }
    }
}
