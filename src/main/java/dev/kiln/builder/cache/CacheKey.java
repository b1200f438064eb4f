package dev.kiln.builder.cache;

import dev.kiln.oci.Digester;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * A step's layer-cache key: sha256 over its parent step's key and what the step's result depends
 * on, each part length-prefixed so that no two different inputs hash the same bytes. The hex form
 * is a valid tag, which is how the cache repository stores the layer.
 */
public final class CacheKey {
    private final Digester digester = Digester.sha256();

    private CacheKey(String parent) {
        part("parent", parent);
    }

    /** Starts the key of a step whose predecessor had key (or base image digest) {@code parent}. */
    public static CacheKey after(String parent) {
        return new CacheKey(parent);
    }

    public CacheKey part(String name, String value) {
        bytes(name.getBytes(StandardCharsets.UTF_8));
        bytes(value == null ? new byte[] {(byte) 0xff} : value.getBytes(StandardCharsets.UTF_8));
        return this;
    }

    public CacheKey part(String name, Iterable<String> values) {
        StringBuilder joined = new StringBuilder();
        int n = 0;
        for (String v : values) {
            joined.append(v.length()).append(':').append(v).append(';');
            n++;
        }
        return part(name, n + "[" + joined + "]");
    }

    /** A map in key order, so the order variables were declared in does not change the key. */
    public CacheKey part(String name, Map<String, String> values) {
        StringBuilder joined = new StringBuilder();
        for (Map.Entry<String, String> e : new TreeMap<>(values).entrySet()) {
            joined.append(e.getKey().length()).append(':').append(e.getKey()).append('=');
            String v = e.getValue() == null ? "" : e.getValue();
            joined.append(v.length()).append(':').append(v).append(';');
        }
        return part(name, joined.toString());
    }

    /** The key: 64 hex digits. */
    public String value() {
        return digester.digest().hex();
    }

    private void bytes(byte[] b) {
        digester.update(Integer.toString(b.length).getBytes(StandardCharsets.US_ASCII));
        digester.update(new byte[] {':'});
        digester.update(b);
    }
}
