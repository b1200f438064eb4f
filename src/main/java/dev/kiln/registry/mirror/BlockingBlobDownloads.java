package dev.kiln.registry.mirror;

import dev.kiln.oci.Digest;
import dev.kiln.registry.client.UpstreamException;
import dev.kiln.registry.client.UpstreamResponse;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Map;

/** {@link BlobDownloads} on the registry client's blocking connections, for callers without an event loop. */
final class BlockingBlobDownloads implements BlobDownloads {
    static final BlockingBlobDownloads INSTANCE = new BlockingBlobDownloads();
    private static final int CHUNK = 256 * 1024;

    @Override
    public Download open(MirrorRoute route, Digest digest) throws IOException {
        UpstreamResponse response = route.upstream().get(route.remoteName(), "/v2/" + route.remoteName() + "/blobs/" + digest, Map.of());
        if (response.status() != 200) {
            throw route.upstream().failure(response, "blob " + digest);
        }
        InputStream body = response.body();
        return new Download() {
            private final byte[] buffer = new byte[CHUNK];
            private boolean ended;

            @Override
            public long contentLength() {
                return response.contentLength();
            }

            @Override
            public ByteBuffer next() throws IOException {
                int n;
                try {
                    n = body.read(buffer);
                } catch (IOException e) {
                    throw new UpstreamException(route.upstreamName() + " broke off blob " + digest + ": " + e.getMessage(), e);
                }
                ended = n < 0;
                return ended ? null : ByteBuffer.wrap(buffer, 0, n);
            }

            @Override
            public void close() {
                if (ended) {
                    response.close();
                } else {
                    response.abort();
                }
            }
        };
    }
}
