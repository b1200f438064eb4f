package dev.kiln.app.http;

import dev.kiln.app.config.KilnConfig;
import dev.kiln.oci.Digest;
import dev.kiln.oci.InvalidDigestException;
import dev.kiln.store.Store;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import java.io.IOException;


/**
 * The same blob download as /v2/ but through quarkus-rest returning a {@link java.nio.file.Path}, so
 * the benchmark can compare the two ways of sending files (bench/blob-download.sh). Off unless
 * {@code kiln.bench.rest-endpoint=true}.
 */
@Path("/bench/rest-blobs")
public class RestBlobComparison {
    @Inject
    Store store;

    @Inject
    KilnConfig config;

    @GET
    @Path("{digest}")
    @Produces("application/octet-stream")
    public java.nio.file.Path blob(@PathParam("digest") String digest) throws IOException {
        if (!config.bench().restEndpoint()) {
            throw new NotFoundException();
        }
        try {
            return store.blobs().readableFile(Digest.parse(digest));
        } catch (InvalidDigestException | dev.kiln.store.BlobNotFoundException e) {
            throw new NotFoundException(e.getMessage());
        }
    }
}
