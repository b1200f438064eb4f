package dev.kiln.store;

public final class ManifestLimits {
    /** The OCI distribution spec's suggested ceiling for manifests, which registries hold in memory. */
    public static final int MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

    /** Image configs are read whole too; real ones are kilobytes, this only bounds a hostile one. */
    public static final int MAX_CONFIG_BYTES = 64 * 1024 * 1024;

    private ManifestLimits() {
    }
}
