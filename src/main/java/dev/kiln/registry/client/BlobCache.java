package dev.kiln.registry.client;

import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * A local content-addressed directory of blobs ({@code <root>/<algorithm>/<hex>}). A blob is written to
 * a temporary file, verified against its digest and only then renamed into place, so whatever is in the
 * cache is complete and correct.
 */
public final class BlobCache {
    private final Path root;
    private final Seed seed;

    public BlobCache(Path root) {
        this(root, null);
    }

    private BlobCache(Path root, Seed seed) {
        this.root = root;
        this.seed = seed;
    }

    /** Another place blobs can be copied in from, verified, when this cache does not have them. */
    public interface Seed {
        /** Puts {@code digest} into {@code cache} if this seed holds it; false if not. */
        boolean seed(Digest digest, BlobCache cache) throws IOException;
    }

    /** This cache, filled from {@code seed} on a miss (e.g. a directory kaniko's warmer filled). */
    public BlobCache withSeed(Seed seed) {
        return new BlobCache(root, seed);
    }

    public Path root() {
        return root;
    }

    public Path path(Digest digest) {
        return root.resolve(digest.algorithm()).resolve(digest.hex());
    }

    /** Whether the blob is here, after asking the seed for it. */
    public boolean contains(Digest digest) throws IOException {
        return Files.isRegularFile(path(digest)) || (seed != null && seed.seed(digest, this) && Files.isRegularFile(path(digest)));
    }

    /** Copies {@code in} into the cache, failing (and keeping nothing) when its digest or size differ. */
    public Path put(Digest digest, long expectedSize, InputStream in, String what) throws IOException {
        Path target = path(digest);
        Files.createDirectories(target.getParent());
        Path temp = Files.createTempFile(target.getParent(), "." + digest.hex().substring(0, 12), ".partial");
        try {
            Digester digester = Digester.like(digest);
            byte[] buffer = new byte[64 * 1024];
            try (OutputStream out = Files.newOutputStream(temp)) {
                for (int n; (n = in.read(buffer)) > 0; ) {
                    digester.update(buffer, 0, n);
                    out.write(buffer, 0, n);
                }
            }
            Digest actual = digester.digest();
            if (!actual.equals(digest)) {
                throw new DigestMismatchException(what + ": expected " + digest + " but the content is " + actual);
            }
            if (expectedSize >= 0 && digester.length() != expectedSize) {
                throw new DigestMismatchException(what + ": expected " + expectedSize + " bytes but got " + digester.length());
            }
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            return target;
        } finally {
            Files.deleteIfExists(temp);
        }
    }
}
