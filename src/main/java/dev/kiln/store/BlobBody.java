package dev.kiln.store;

import java.io.InputStream;
import java.nio.file.Path;

/**
 * How the bytes of a blob (or of a range of it) reach a client. The HTTP layer picks the cheapest way
 * the backend offers: a local file is sent with zero copy (sendfile), an object store's bytes are
 * streamed, or the client is sent to fetch them itself from a presigned URL.
 */
public sealed interface BlobBody {
    long length();

    /** {@code length} bytes of a local file from {@code offset}; the file is never written to. */
    record FileRegion(Path file, long offset, long length) implements BlobBody {
    }

    /** Bytes to copy to the client; whoever sends them closes the stream. */
    record Stream(InputStream in, long length) implements BlobBody {
    }

    /** A URL from which the client fetches the whole blob itself (HTTP 307). */
    record Redirect(String url, long length) implements BlobBody {
    }
}
