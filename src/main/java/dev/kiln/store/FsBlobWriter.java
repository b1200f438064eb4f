package dev.kiln.store;

import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Spools content to a local temp file, hashing it as it arrives; a verified commit hands the file to
 * the backend (renamed into the filesystem store, uploaded to an object store).
 */
public final class FsBlobWriter implements BlobWriter {
    static final int BUFFER_SIZE = 256 * 1024;

    /** Makes a verified temp file the blob; it may move the file or must delete it. */
    @FunctionalInterface
    public interface Adopter {
        void adopt(Path verified, Digest digest, long size) throws IOException;
    }

    private final Adopter store;
    private final Path temp;
    private final FileChannel channel;
    private final Digester digester = Digester.sha256();
    private boolean finished;
    private Digest verified;

    public FsBlobWriter(Adopter store, Path temp) throws IOException {
        this.store = store;
        this.temp = temp;
        this.channel = FsFiles.createChannel(temp);
    }

    @Override
    public long write(InputStream in) throws IOException {
        byte[] buffer = new byte[BUFFER_SIZE];
        long total = 0;
        for (int n; (n = in.read(buffer)) >= 0; ) {
            write(buffer, 0, n);
            total += n;
        }
        return total;
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
        if (verified != null) {
            throw new IllegalStateException("writer already verified");
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes, offset, length);
        try {
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        } catch (IOException e) {
            close();
            throw new StoreWriteException("could not write blob: " + e.getMessage(), e);
        }
        digester.update(bytes, offset, length);
    }

    @Override
    public long size() {
        return digester.length();
    }

    @Override
    public PositionalReader openReader() throws IOException {
        return FsFiles.positionalReader(temp);
    }

    @Override
    public Digest commit(Digest expected) throws IOException {
        if (finished) {
            throw new IllegalStateException("writer already finished");
        }
        try {
            Digest actual = verify(expected);
            channel.force(true);
            channel.close();
            store.adopt(temp, actual, digester.length());
            finished = true;
            return actual;
        } finally {
            if (!finished) {
                close();
            }
        }
    }

    @Override
    public Digest verify(Digest expected) throws IOException {
        if (finished) {
            throw new IllegalStateException("writer already finished");
        }
        if (verified == null) {
            verified = expected == null || expected.algorithm().equals("sha256") ? digester.digest() : rehash(expected.algorithm());
        }
        if (expected != null && !expected.equals(verified)) {
            close();
            throw new DigestMismatchException(expected, verified, digester.length());
        }
        return verified;
    }

    private Digest rehash(String algorithm) throws IOException {
        try (InputStream in = Files.newInputStream(temp)) {
            return Digester.digest(in, algorithm);
        }
    }

    @Override
    public void close() throws IOException {
        finished = true;
        channel.close();
        Files.deleteIfExists(temp);
    }
}
