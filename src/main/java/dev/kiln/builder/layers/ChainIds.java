package dev.kiln.builder.layers;

import dev.kiln.oci.Digest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The OCI image spec's ChainID: the first layer's is its DiffID, each next one
 * {@code sha256(parent ChainID + " " + DiffID)}. It names a layer together with everything
 * below it, which is what an unpacked layer depends on.
 */
public final class ChainIds {
    private ChainIds() {
    }

    /** The ChainID after each layer, in order. */
    public static List<Digest> of(List<Digest> diffIds) {
        List<Digest> chain = new ArrayList<>(diffIds.size());
        Digest parent = null;
        for (Digest diffId : diffIds) {
            parent = parent == null ? diffId
                    : Digest.sha256((parent + " " + diffId).getBytes(StandardCharsets.UTF_8));
            chain.add(parent);
        }
        return chain;
    }
}
