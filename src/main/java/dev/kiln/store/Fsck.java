package dev.kiln.store;

import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.RepositoryName;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/** Verifies every blob against its digest; a bad one is quarantined so it is never served again. */
public final class Fsck {
    private final Store store;

    public Fsck(Store store) {
        this.store = store;
    }

    public record Report(long checked, long bytes, List<String> corrupt, List<String> danglingLinks) {
        public boolean clean() {
            return corrupt.isEmpty() && danglingLinks.isEmpty();
        }
    }

    public Report run(boolean quarantine) throws IOException {
        List<String> corrupt = new ArrayList<>();
        long[] counts = new long[2];
        try {
            store.blobs().forEach(info -> {
                counts[0]++;
                counts[1] += info.size();
                try {
                    Digest actual;
                    try (InputStream in = store.blobs().open(info.digest(), 0)) {
                        actual = Digester.digest(in, info.digest().algorithm());
                    }
                    if (!actual.equals(info.digest())) {
                        corrupt.add(info.digest() + " (content hashes to " + actual + ")");
                        if (quarantine) {
                            store.blobs().quarantine(info.digest());
                        }
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        List<String> dangling = new ArrayList<>();
        for (RepositoryName repository : store.metadata().repositories()) {
            for (Digest manifest : store.metadata().manifests(repository)) {
                if (!store.blobs().exists(manifest)) {
                    dangling.add(repository + "@" + manifest + " (manifest)");
                }
            }
        }
        return new Report(counts[0], counts[1], corrupt, dangling);
    }
}
