package dev.kiln.oci;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.UncheckedIOException;
import java.util.List;

/** Writes OCI image manifests: fixed field order, so the same config and layers give the same digest. */
public final class ImageManifests {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ImageManifests() {
    }

    public static byte[] oci(Descriptor config, List<Descriptor> layers) {
        ObjectNode manifest = JSON.createObjectNode();
        manifest.put("schemaVersion", 2);
        manifest.put("mediaType", MediaTypes.OCI_MANIFEST);
        manifest.set("config", node(config));
        ArrayNode layerNodes = manifest.putArray("layers");
        for (Descriptor layer : layers) {
            layerNodes.add(node(layer));
        }
        try {
            return JSON.writeValueAsBytes(manifest);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ObjectNode node(Descriptor d) {
        ObjectNode n = JSON.createObjectNode();
        n.put("mediaType", d.mediaType());
        n.put("digest", d.digest());
        n.put("size", d.size());
        return n;
    }
}
