package dev.kiln.builder.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.builder.exec.Executor;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.registry.client.ImagePusher;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * What a gateway build reused and what it moved (see {@link Executor.Report}): its layers, how many
 * came from the layer cache or were already where they went, and the bytes uploaded against those
 * that were not, each blob counted once; then the same per destination.
 *
 * @param cacheRepository the layer cache's repository in the store, or null without the cache
 */
public record BuildReport(int layers, int layersFromCache, int layersReused, long bytesUploaded, long layerBytesUploaded,
                          long bytesNotUploaded, String cacheRepository, List<Destination> destinations) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param inStore the destination is the gateway's own store: its blobs were linked, not sent
     * @param blobsLinked blobs the destination did not have but that were taken without their bytes
     *                    moving: linked from the store, or mounted from another repository
     */
    public record Destination(String reference, boolean inStore, int blobsUploaded, int blobsLinked, int blobsExisting,
                              long bytesUploaded, long bytesNotUploaded) {
    }

    public BuildReport {
        destinations = List.copyOf(destinations);
    }

    public static BuildReport of(Executor.Report report, Predicate<ImageReference> inStore, String cacheRepository) {
        List<Destination> destinations = new ArrayList<>();
        for (ImagePusher.Destination d : report.destinations()) {
            destinations.add(new Destination(d.reference().toString(), inStore.test(d.reference()), d.blobsUploaded(),
                    d.blobsMounted(), d.blobsExisting(), d.bytesUploaded(), d.bytesSkipped()));
        }
        return new BuildReport(report.layers(), report.layersFromCache(), report.layersReused(), report.bytesUploaded(),
                report.layerBytesUploaded(), report.bytesNotUploaded(), cacheRepository, destinations);
    }

    public ObjectNode toJson() {
        ObjectNode node = JSON.createObjectNode();
        node.put("layers", layers).put("layersFromCache", layersFromCache).put("layersReused", layersReused)
                .put("bytesUploaded", bytesUploaded).put("layerBytesUploaded", layerBytesUploaded)
                .put("bytesNotUploaded", bytesNotUploaded).put("cacheRepository", cacheRepository);
        ArrayNode array = node.putArray("destinations");
        for (Destination d : destinations) {
            array.addObject().put("reference", d.reference()).put("inStore", d.inStore())
                    .put("blobsUploaded", d.blobsUploaded()).put("blobsLinked", d.blobsLinked())
                    .put("blobsExisting", d.blobsExisting()).put("bytesUploaded", d.bytesUploaded())
                    .put("bytesNotUploaded", d.bytesNotUploaded());
        }
        return node;
    }

    /** The report in a stored record; null when the record has none (the build did not succeed, or predates reports). */
    public static BuildReport parse(JsonNode node) {
        if (node == null || !node.isObject()) {
            return null;
        }
        List<Destination> destinations = new ArrayList<>();
        for (JsonNode d : node.path("destinations")) {
            destinations.add(new Destination(d.path("reference").asText(), d.path("inStore").asBoolean(),
                    d.path("blobsUploaded").asInt(), d.path("blobsLinked").asInt(), d.path("blobsExisting").asInt(),
                    d.path("bytesUploaded").asLong(), d.path("bytesNotUploaded").asLong()));
        }
        JsonNode cache = node.get("cacheRepository");
        return new BuildReport(node.path("layers").asInt(), node.path("layersFromCache").asInt(),
                node.path("layersReused").asInt(), node.path("bytesUploaded").asLong(), node.path("layerBytesUploaded").asLong(),
                node.path("bytesNotUploaded").asLong(), cache == null || cache.isNull() ? null : cache.asText(), destinations);
    }
}
