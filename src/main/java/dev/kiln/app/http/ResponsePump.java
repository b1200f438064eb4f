package dev.kiln.app.http;

import io.netty.buffer.Unpooled;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * Copies a blocking stream into a response from a worker thread, waiting whenever the client reads
 * slower than the source. A source that fails midway resets the connection, so the client sees a
 * broken transfer instead of a body that merely looks short.
 *
 * <p>The pump counts the bytes it has handed to Vert.x until each write completes, and waits while
 * {@link #MAX_IN_FLIGHT} are outstanding. {@code writeQueueFull()} alone is not a bound here: writes
 * from a worker thread wait in the event loop's task queue, where the channel's writability does not
 * see them, so a pump reading a cached file could queue a whole blob. Each queued chunk becomes a
 * direct buffer on its way to the socket; under a direct-memory cap one of them then failed, Netty
 * dropped that chunk, and the client waited for bytes that never came until the idle timeout closed
 * the connection ("unexpected EOF", nothing logged). A failed write now resets the response and says why.
 */
final class ResponsePump {
    private static final Logger LOG = Logger.getLogger(ResponsePump.class);
    private static final int CHUNK = 128 * 1024;
    /** Per response; with the socket's own buffer this keeps a fast client busy. */
    static final long MAX_IN_FLIGHT = 2L * CHUNK;

    private final HttpServerResponse response;
    private final InputStream source;
    private final Object drained = new Object();
    private final AtomicLong inFlight = new AtomicLong();
    /** Chunks whose write has completed, to be filled again: 20 cold pulls made 4 GB of garbage without it. */
    private final java.util.concurrent.ConcurrentLinkedQueue<byte[]> spare = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private volatile Throwable writeFailure;
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
        try (InputStream in = source) {
            while (true) {
                byte[] polled = spare.poll();
                byte[] chunk = polled != null ? polled : new byte[CHUNK]; // handed to Vert.x as it is, no second copy
                int n = in.readNBytes(chunk, 0, CHUNK);
                if (closed) {
                    return;
                }
                if (n == 0) {
                    break;
                }
                inFlight.addAndGet(n);
                response.write(Buffer.buffer(Unpooled.wrappedBuffer(chunk, 0, n))).onComplete(written -> {
                    inFlight.addAndGet(-n);
                    if (written.failed() && writeFailure == null) {
                        writeFailure = written.cause();
                    }
                    if (written.succeeded()) {
                        spare.add(chunk); // flushed to the socket: Netty holds no reference to it any more
                    }
                    signal();
                });
                synchronized (drained) {
                    while ((inFlight.get() >= MAX_IN_FLIGHT || response.writeQueueFull()) && !closed && writeFailure == null) {
                        drained.wait(1000);
                    }
                }
                if (writeFailure != null) {
                    break;
                }
                if (n < CHUNK) {
                    break;
                }
            }
            if (writeFailure != null) {
                if (!closed) {
                    LOG.warnf("aborting a streamed response: writing to the client failed: %s", writeFailure.toString());
                    response.reset();
                }
            } else if (!closed) {
                response.end();
            }
        } catch (IOException e) {
            LOG.warnf("aborting a streamed response: %s", e.getMessage());
            response.reset();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            response.reset();
        } catch (RuntimeException | Error e) {
            // an Error would otherwise end unseen in executeBlocking's future, the client left waiting
            LOG.warn("streaming a response failed", e);
            response.reset();
            if (e instanceof Error error && !(e instanceof OutOfMemoryError)) {
                throw error;
            }
        }
    }
}
