package dev.kiln.store;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * Build records and logs kept in the store, so that every replica of a store can answer for a build
 * that another one runs: per build id its record (JSON, replaced whole) and its log, which only grows.
 * The filesystem keeps the gateway's own layout ({@code builds/<id>/build.json}, {@code build.log});
 * an object store keeps the log as chunks {@code builds/<id>/log/<offset>}, one PUT each, since
 * objects cannot be appended to.
 */
public interface BuildArchive {
    void saveRecord(String id, byte[] json) throws IOException;

    Optional<byte[]> record(String id) throws IOException;

    /** Builds with a record, in id order. */
    List<String> ids() throws IOException;

    /**
     * Adds {@code bytes} to the log at {@code offset}, which must be the log's length so far (the one
     * writer of a build keeps count); writing the same chunk again is harmless.
     */
    void appendLog(String id, long offset, byte[] bytes) throws IOException;

    /** Up to {@code max} bytes of the log from {@code offset}; none at its end or when there is no log. */
    byte[] readLog(String id, long offset, int max) throws IOException;

    /**
     * Removes the build: its record first, so that a reader finds the whole build or none, then its
     * log. Removing a build that is not there is harmless.
     */
    void delete(String id) throws IOException;

    /** Whether this is the gateway's own {@code builds/} directory, which then needs no copies. */
    default boolean isGatewayDirectory() {
        return false;
    }

    /** Checks an id before it becomes part of a path or key. */
    static String checked(String id) {
        if (id == null || !id.matches("[0-9a-f]{20}")) {
            throw new IllegalArgumentException("not a build id: " + id);
        }
        return id;
    }
}
