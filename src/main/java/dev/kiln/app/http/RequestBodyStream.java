package dev.kiln.app.http;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;

/**
 * A request body as a blocking {@link InputStream} for worker threads, with back-pressure: the
 * connection is paused while more than {@link #HIGH_WATER} bytes wait, so an upload of any size
 * takes a few MiB of heap at most.
 */
final class RequestBodyStream extends InputStream {
    private static final long HIGH_WATER = 4L << 20;
    private static final long LOW_WATER = 1L << 20;

    private final HttpServerRequest request;
    private final Context context;
    private final ArrayDeque<Buffer> queue = new ArrayDeque<>();
    private long queued;
    private boolean paused;
    private boolean ended;
    private Throwable failure;
    private Buffer current;
    private int position;

    /** Must be created on the request's event loop, while the request is paused. */
    RequestBodyStream(HttpServerRequest request) {
        this.request = request;
        this.context = Vertx.currentContext();
        request.handler(this::arrived);
        request.endHandler(v -> finish(null));
        request.exceptionHandler(this::finish);
        request.resume();
    }

    private synchronized void arrived(Buffer buffer) {
        queue.add(buffer);
        queued += buffer.length();
        if (!paused && queued > HIGH_WATER) {
            paused = true;
            request.pause();
        }
        notifyAll();
    }

    private synchronized void finish(Throwable error) {
        if (error != null && !ended) {
            failure = error;
        }
        ended = true;
        notifyAll();
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public synchronized int read(byte[] target, int offset, int length) throws IOException {
        if (length == 0) {
            return 0;
        }
        while (current == null || position >= current.length()) {
            Buffer next = queue.poll();
            if (next != null) {
                current = next;
                position = 0;
                queued -= next.length();
                if (paused && queued < LOW_WATER) {
                    paused = false;
                    context.runOnContext(v -> request.resume());
                }
                continue;
            }
            if (failure != null) {
                throw new IOException("request body interrupted: " + failure.getMessage(), failure);
            }
            if (ended) {
                return -1;
            }
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while reading the request body", e);
            }
        }
        int n = Math.min(length, current.length() - position);
        current.getBytes(position, position + n, target, offset);
        position += n;
        return n;
    }
}
