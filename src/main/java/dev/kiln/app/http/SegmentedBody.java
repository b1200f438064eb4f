package dev.kiln.app.http;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * A request body handed to blocking code in segments. Bytes are gathered on the event loop (the
 * connection paused while {@link #HIGH_WATER} bytes wait) and a worker thread gets a segment only
 * once {@link #SEGMENT} bytes or the end of the body are there: a client that sends a few bytes a
 * second holds a connection and a few buffers, never a worker thread, so thousands of slow uploads
 * cannot starve the store's work. The first step runs at once with no bytes, so a request that will
 * be refused is refused before its body is read.
 */
final class SegmentedBody<T> {
    static final int SEGMENT = 1 << 20;
    private static final int HIGH_WATER = 4 << 20;

    /** One step over a segment; the result of the last step ({@code last} true) answers the request. */
    interface Step<T> {
        T apply(InputStream segment, boolean first, boolean last) throws Exception;
    }

    private final Vertx vertx;
    private final HttpServerRequest request;
    private final Step<T> step;
    private final Promise<T> done = Promise.promise();
    private final ArrayDeque<Buffer> queue = new ArrayDeque<>();
    private long queued;
    private boolean paused;
    private boolean ended;
    private Throwable failure;
    private boolean running;
    private boolean first = true;

    private SegmentedBody(Vertx vertx, HttpServerRequest request, Step<T> step) {
        this.vertx = vertx;
        this.request = request;
        this.step = step;
    }

    /** Must be called on the request's event loop, with the request paused. */
    static <T> Future<T> run(Vertx vertx, HttpServerRequest request, Step<T> step) {
        SegmentedBody<T> body = new SegmentedBody<>(vertx, request, step);
        request.handler(body::arrived);
        request.endHandler(v -> {
            body.ended = true;
            body.next();
        });
        request.exceptionHandler(t -> {
            if (!body.ended) {
                body.failure = t;
                body.ended = true;
            }
            body.next();
        });
        body.ended = request.isEnded();
        body.next();
        if (!body.ended) {
            request.resume();
        }
        return body.done.future();
    }

    /**
     * A small body whole, gathered on the event loop: at most {@code limit} bytes are kept, and the
     * future completes as soon as more arrived, so the caller refuses an oversized body without waiting for it.
     */
    static Future<byte[]> whole(HttpServerRequest request, int limit) {
        Promise<byte[]> done = Promise.promise();
        Buffer all = Buffer.buffer();
        if (request.isEnded()) {
            return Future.succeededFuture(new byte[0]);
        }
        request.handler(buffer -> {
            if (all.length() <= limit) {
                all.appendBuffer(buffer);
            }
            if (all.length() > limit) {
                done.tryComplete(all.getBytes());
            }
        });
        request.endHandler(v -> done.tryComplete(all.getBytes()));
        request.exceptionHandler(t -> done.tryFail(new IOException("request body interrupted: " + t.getMessage(), t)));
        request.resume();
        return done.future();
    }

    private void arrived(Buffer buffer) {
        queue.add(buffer);
        queued += buffer.length();
        if (!paused && queued > HIGH_WATER) {
            paused = true;
            request.pause();
        }
        next();
    }

    private void next() {
        if (running || done.future().isComplete() || !(first || ended || queued >= SEGMENT)) {
            return;
        }
        if (failure != null && queue.isEmpty()) {
            done.tryFail(new IOException("request body interrupted: " + failure.getMessage(), failure));
            return;
        }
        List<Buffer> segment = new ArrayList<>(queue);
        queue.clear();
        queued = 0;
        if (paused) {
            paused = false;
            request.resume();
        }
        boolean isFirst = first;
        // after an interruption the bytes that did arrive are still written (a resumable upload keeps
        // them), then the failure answers the request
        boolean last = ended && failure == null;
        first = false;
        running = true;
        vertx.<T>executeBlocking(() -> step.apply(new BuffersStream(segment), isFirst, last), false).onComplete(result -> {
            running = false;
            if (result.failed()) {
                done.tryFail(result.cause());
            } else if (last) {
                done.tryComplete(result.result());
            } else {
                next();
            }
        });
    }

    /** Buffers that already arrived: reading never waits for the network. */
    private static final class BuffersStream extends InputStream {
        private final ArrayDeque<Buffer> buffers;
        private int position;

        BuffersStream(List<Buffer> buffers) {
            this.buffers = new ArrayDeque<>(buffers);
        }

        @Override
        public int read() {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] target, int offset, int length) {
            if (length == 0) {
                return 0;
            }
            while (!buffers.isEmpty() && position >= buffers.peek().length()) {
                buffers.poll();
                position = 0;
            }
            Buffer current = buffers.peek();
            if (current == null) {
                return -1;
            }
            int n = Math.min(length, current.length() - position);
            current.getBytes(position, position + n, target, offset);
            position += n;
            return n;
        }
    }
}
