package dev.kiln.app.http;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** What a /v2/ request answers, computed on a worker thread and written on the event loop. */
final class Reply {
    final int status;
    final Map<String, String> headers = new LinkedHashMap<>();
    byte[] body;
    Path file;
    dev.kiln.oci.Digest digest;
    java.io.InputStream stream;
    boolean noBody;
    long offset;
    long length;

    Reply withStatus(int newStatus) {
        Reply copy = new Reply(newStatus);
        copy.headers.putAll(headers);
        copy.body = body;
        copy.file = file;
        copy.offset = offset;
        copy.length = length;
        copy.digest = digest;
        copy.stream = stream;
        copy.noBody = noBody;
        return copy;
    }

    private Reply(int status) {
        this.status = status;
    }

    static Reply status(int status) {
        return new Reply(status);
    }

    static Reply json(int status, byte[] body, String contentType) {
        Reply reply = new Reply(status);
        reply.body = body;
        reply.headers.put("Content-Type", contentType);
        return reply;
    }

    /** A file region goes out with zero copy, a stream through a pump; a redirect is not a body (see its caller). */
    static Reply body(int status, dev.kiln.store.BlobBody body, String contentType) {
        Reply reply = new Reply(status);
        if (body instanceof dev.kiln.store.BlobBody.FileRegion region) {
            reply.file = region.file();
            reply.offset = region.offset();
        } else if (body instanceof dev.kiln.store.BlobBody.Stream stream) {
            reply.stream = stream.in();
        } else {
            throw new IllegalArgumentException("a redirect has no body");
        }
        reply.length = body.length();
        reply.headers.put("Content-Type", contentType);
        return reply;
    }

    static Reply stream(int status, java.io.InputStream stream, long length, String contentType) {
        Reply reply = new Reply(status);
        reply.stream = stream;
        reply.length = length;
        reply.headers.put("Content-Type", contentType);
        return reply;
    }

    /** Headers only: the Content-Length set describes a body this answer does not carry (HEAD). */
    Reply withoutBody() {
        noBody = true;
        return this;
    }

    Reply header(String name, Object value) {
        headers.put(name, String.valueOf(value));
        return this;
    }
}
