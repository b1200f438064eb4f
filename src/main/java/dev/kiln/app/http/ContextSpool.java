package dev.kiln.app.http;

import dev.kiln.builder.gateway.BuildRequestException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.nio.file.Path;

/**
 * An uploaded build context written to its file from the event loop, with back-pressure from the
 * file to the connection: a slow client holds no worker thread while it sends. Refused (and the file
 * deleted) past {@code limit} bytes, or when the disk is full.
 */
final class ContextSpool {
    private static final int BATCH = 256 * 1024;

    private ContextSpool() {
    }

    /** Must be called on the request's event loop, with the request paused. */
    static Future<Path> receive(Vertx vertx, HttpServerRequest request, Path file, long limit) {
        Promise<Path> done = Promise.promise();
        OpenOptions options = new OpenOptions().setCreateNew(true).setWrite(true).setPerms("rw-------");
        vertx.fileSystem().open(file.toString(), options).onComplete(opened -> {
            if (opened.failed()) {
                RegistryRoutes.drainUnreadBody(request);
                done.fail(opened.cause());
                return;
            }
            AsyncFile out = opened.result();
            long[] received = {0};
            Runnable abandon = () -> out.close().onComplete(v -> vertx.fileSystem().delete(file.toString()));
            out.exceptionHandler(t -> {
                if (done.tryFail(t)) {
                    RegistryRoutes.drainUnreadBody(request);
                    abandon.run();
                }
            });
            // the connection hands over buffers of a few KiB; one file write each (a hop to a worker
            // thread) was most of a small context's upload time, so they go to the file in batches
            Buffer[] batch = {Buffer.buffer(BATCH)};
            Runnable flush = () -> {
                out.write(batch[0]).onFailure(t -> {
                    if (done.tryFail(t)) {
                        RegistryRoutes.drainUnreadBody(request);
                        abandon.run();
                    }
                });
                batch[0] = Buffer.buffer(BATCH);
            };
            request.handler(buffer -> {
                if (done.future().isComplete()) {
                    return;
                }
                received[0] += buffer.length();
                if (received[0] > limit) {
                    done.tryFail(BuildRequestException.contextTooLarge(limit));
                    RegistryRoutes.drainUnreadBody(request);
                    abandon.run();
                    return;
                }
                batch[0].appendBuffer(buffer);
                if (batch[0].length() < BATCH) {
                    return;
                }
                flush.run();
                if (out.writeQueueFull()) {
                    request.pause();
                    out.drainHandler(v -> request.resume());
                }
            });
            request.exceptionHandler(t -> {
                if (done.tryFail(new IOException("request body interrupted: " + t.getMessage(), t))) {
                    abandon.run();
                }
            });
            request.endHandler(v -> {
                if (done.future().isComplete()) {
                    return;
                }
                if (received[0] == 0) {
                    done.tryFail(BuildRequestException.brokenContext("the request carries no build context: send a tar or tar.gz as the body"));
                    abandon.run();
                    return;
                }
                if (batch[0].length() > 0) {
                    flush.run();
                }
                // flushed and closed: a write that failed (disk full) has failed the upload before this completes
                out.close().onComplete(closed -> {
                    if (done.future().isComplete()) {
                        vertx.fileSystem().delete(file.toString());
                    } else if (closed.failed()) {
                        done.tryFail(closed.cause());
                        vertx.fileSystem().delete(file.toString());
                    } else {
                        done.tryComplete(file);
                    }
                });
            });
            if (request.isEnded()) {
                done.tryFail(BuildRequestException.brokenContext("the request carries no build context: send a tar or tar.gz as the body"));
                abandon.run();
            } else {
                request.resume();
            }
        });
        return done.future();
    }
}
