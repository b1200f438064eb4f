package dev.kiln.registry.client;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;

/** A response whose body streams from the connection; close it to return the connection to the pool. */
public final class UpstreamResponse implements AutoCloseable {
    private final HttpURLConnection connection;
    private final int status;
    private InputStream body;

    UpstreamResponse(HttpURLConnection connection, int status) {
        this.connection = connection;
        this.status = status;
    }

    public int status() {
        return status;
    }

    public String header(String name) {
        return connection.getHeaderField(name);
    }

    /** The declared body length, or -1 when the upstream streams without one. */
    public long contentLength() {
        return connection.getContentLengthLong();
    }

    public String contentType() {
        return connection.getContentType();
    }

    public InputStream body() throws IOException {
        if (body == null) {
            body = status >= 400 ? connection.getErrorStream() : connection.getInputStream();
            if (body == null) {
                body = InputStream.nullInputStream();
            }
        }
        return body;
    }

    @Override
    public void close() {
        try {
            if (body != null) {
                body.close();
            } else if (status < 400) {
                connection.getInputStream().close();
            }
        } catch (IOException e) {
            connection.disconnect();
        }
    }

    /** Drops the connection instead of draining it, for bodies abandoned halfway. */
    public void abort() {
        connection.disconnect();
    }
}
