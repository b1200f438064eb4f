package dev.kiln.app.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.builder.gateway.BuildRecord;
import dev.kiln.builder.gateway.BuildService;
import dev.kiln.builder.gateway.BuildState;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Follows a build's log as server-sent events until the build ends: one {@code data:} event per
 * line, its {@code id} the byte offset after the line (so {@code Last-Event-ID} resumes there), and
 * a last {@code event: end} whose data is the build's end state. The file is read on worker threads
 * in chunks, and read again at the build record's next change (a step, the end) or at the next
 * poll, whichever comes first: the stream ends as the build does, and a RUN's output still shows
 * while its step runs. A build another replica runs is only polled.
 *
 * <p>The stream a submission answers with ({@link #followSubmitted}) opens with an {@code accepted}
 * event (the build's record) and, while the build waits for a slot, says each new queue position in
 * a {@code queued} event; the log's own stream has neither, so its readers see only log lines.
 */
final class LogEvents {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CHUNK = 64 * 1024;
    private static final long IDLE_POLL_MILLIS = 150;

    private final Vertx vertx;
    private final long pollMillis;
    private final Context context;
    private final HttpServerResponse response;
    private final BuildService builds;
    private final String id;
    private final Path file;
    private final boolean queueEvents;
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
    private long offset;
    /** The queue position last told; touched on the event loop only. */
    private int toldPosition;
    private volatile boolean closed;
    /** Set while a wake-up at the record's next change is registered, so a long step registers one, not one per poll. */
    private final AtomicBoolean registered = new AtomicBoolean();
    /** Touched on the event loop only. */
    private Pending pending;

    /** The current wait for something new: whichever of the poll and the record's change comes first sets {@code once}. */
    private record Pending(AtomicBoolean once, long timer) {
    }

    /** @param queuePosition 0 unless the build waits for a slot and its stream tells where */
    private record Chunk(byte[] bytes, BuildRecord stateBeforeRead, int queuePosition) {
    }

    private LogEvents(Vertx vertx, HttpServerResponse response, BuildService builds, String id, Path file, long offset,
                      long pollMillis, boolean queueEvents) {
        this.vertx = vertx;
        this.pollMillis = pollMillis;
        this.context = vertx.getOrCreateContext();
        this.response = response;
        this.builds = builds;
        this.id = id;
        this.file = file;
        this.offset = offset;
        this.queueEvents = queueEvents;
    }

    static void follow(Vertx vertx, HttpServerResponse response, BuildService builds, String id, Path file, long from) {
        follow(vertx, response, builds, id, file, from, IDLE_POLL_MILLIS);
    }

    /** @param pollMillis how long to wait for the log to grow before reading it again when the record does not change */
    static void follow(Vertx vertx, HttpServerResponse response, BuildService builds, String id, Path file, long from,
                       long pollMillis) {
        start(new LogEvents(vertx, response, builds, id, file, from, pollMillis, false), ": build " + id + "\n\n");
    }

    /** The whole log of a build just accepted, after an {@code accepted} event whose data is {@code record}, a JSON object. */
    static void followSubmitted(Vertx vertx, HttpServerResponse response, BuildService builds, String id, Path file,
                                String record) {
        followSubmitted(vertx, response, builds, id, file, record, IDLE_POLL_MILLIS);
    }

    static void followSubmitted(Vertx vertx, HttpServerResponse response, BuildService builds, String id, Path file,
                                String record, long pollMillis) {
        start(new LogEvents(vertx, response, builds, id, file, 0, pollMillis, true),
                "event: accepted\ndata: " + oneLine(record) + "\n\n");
    }

    private static void start(LogEvents events, String opening) {
        events.response.setChunked(true)
                .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                .putHeader("Cache-Control", "no-cache")
                .putHeader("X-Accel-Buffering", "no");
        events.response.closeHandler(v -> events.closed = true);
        events.response.write(opening);
        events.next();
    }

    private void next() {
        if (closed) {
            return;
        }
        if (response.writeQueueFull()) {
            response.drainHandler(v -> next());
            return;
        }
        vertx.executeBlocking(this::read, false).onComplete(result -> {
            if (closed) {
                return;
            }
            if (result.failed()) {
                response.end("event: error\ndata: " + oneLine(String.valueOf(result.cause().getMessage())) + "\n\n");
                return;
            }
            Chunk chunk = result.result();
            if (chunk.bytes().length > 0) {
                emit(chunk.bytes());
                next();
            } else if (chunk.stateBeforeRead().state().ended()) {
                finish(chunk.stateBeforeRead());
            } else {
                if (chunk.queuePosition() > 0 && chunk.queuePosition() != toldPosition) {
                    toldPosition = chunk.queuePosition();
                    response.write("event: queued\ndata: {\"queuePosition\":" + toldPosition + "}\n\n");
                }
                idle(chunk.stateBeforeRead());
            }
        });
    }

    /** Nothing new yet: reads again at the record's next change or the next poll, whichever is first. */
    private void idle(BuildRecord seen) {
        AtomicBoolean once = new AtomicBoolean();
        long timer = vertx.setTimer(pollMillis, t -> {
            if (once.compareAndSet(false, true)) {
                next();
            }
        });
        pending = new Pending(once, timer);
        if (registered.compareAndSet(false, true)
                && !builds.onNextChange(id, seen, () -> context.runOnContext(v -> changed()))) {
            registered.set(false);
        }
    }

    private void changed() {
        registered.set(false);
        Pending wait = pending;
        if (wait != null && wait.once().compareAndSet(false, true)) {
            vertx.cancelTimer(wait.timer());
            next();
        }
    }

    /** The state is taken before the read: a build that had ended had written its whole log by then. */
    private Chunk read() throws IOException {
        BuildRecord state = builds.require(id);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buffer = ByteBuffer.allocate(CHUNK);
            int n = channel.read(buffer, offset);
            if (n <= 0) {
                // a position changes when other builds start or end, not this one's record: seen at the polls
                boolean waiting = queueEvents && state.state() == BuildState.QUEUED;
                return new Chunk(new byte[0], state, waiting ? builds.queuePosition(id) : 0);
            }
            byte[] bytes = new byte[n];
            buffer.flip().get(bytes);
            return new Chunk(bytes, state, 0);
        }
    }

    private void emit(byte[] bytes) {
        StringBuilder out = new StringBuilder();
        for (byte b : bytes) {
            offset++;
            if (b == '\n') {
                line(out);
            } else {
                partial.write(b);
            }
        }
        if (out.length() > 0) {
            response.write(out.toString());
        }
    }

    private void line(StringBuilder out) {
        String text = partial.toString(StandardCharsets.UTF_8);
        partial.reset();
        out.append("id: ").append(offset).append('\n')
                .append("data: ").append(oneLine(text)).append("\n\n");
    }

    private void finish(BuildRecord end) {
        StringBuilder out = new StringBuilder();
        if (partial.size() > 0) {
            line(out);
        }
        ObjectNode state = JSON.createObjectNode().put("id", end.id()).put("state", end.state().wireName())
                .put("digest", end.digest()).put("error", end.error());
        state.set("pushed", JSON.valueToTree(end.pushed()));
        out.append("event: end\n").append("data: ").append(state).append("\n\n");
        response.end(out.toString());
    }

    private static String oneLine(String text) {
        return text.replace("\r", "");
    }
}
