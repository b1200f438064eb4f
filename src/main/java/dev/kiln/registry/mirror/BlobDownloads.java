package dev.kiln.registry.mirror;

import dev.kiln.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where the mirror's blob downloads come from. The gateway streams them with its event-loop client
 * (pausing the upstream while the store falls behind); {@link #blocking()} serves plain-Java callers.
 * Auth challenges, redirects to storage URLs and TLS are the implementation's to handle, as
 * {@link dev.kiln.registry.client.RegistryClient} does for every other call.
 */
public interface BlobDownloads {
    /**
     * Sends the GET and waits for the upstream's answer to it. Any answer but 200 is thrown as an
     * {@link dev.kiln.registry.client.UpstreamException} carrying the upstream's status and error code.
     */
    Download open(MirrorRoute route, Digest digest) throws IOException;

    /** One blob body, read chunk by chunk on the fetching thread. */
    interface Download extends AutoCloseable {
        /** The declared length, or -1 when the upstream streams without one. */
        long contentLength();

        /**
         * The next bytes, valid until the following call; null once the body has ended. Waits while
         * none have arrived, and throws when the upstream breaks off or stops answering.
         */
        ByteBuffer next() throws IOException;

        /** Whether {@link #next()} would answer at once: more bytes are already here. */
        default boolean ready() {
            return false;
        }

        /** Releases the connection; one whose body was not read to its end is dropped, not drained. */
        @Override
        void close();
    }

    /** Downloads on {@link dev.kiln.registry.client.RegistryClient}'s blocking connections. */
    static BlobDownloads blocking() {
        return BlockingBlobDownloads.INSTANCE;
    }
}
