package dev.kiln.oci.layer;

import dev.kiln.oci.MediaTypes;

/** How a layer tar is compressed, with the level the compressor should use. */
public record Compression(Algorithm algorithm, int level) {
    public enum Algorithm {
        NONE(MediaTypes.OCI_LAYER),
        GZIP(MediaTypes.OCI_LAYER_GZIP),
        ZSTD(MediaTypes.OCI_LAYER_ZSTD);

        private final String mediaType;

        Algorithm(String mediaType) {
            this.mediaType = mediaType;
        }

        public String mediaType() {
            return mediaType;
        }

        /** Recognises a compressed stream by its first bytes; anything else is taken as plain tar. */
        public static Algorithm sniff(byte[] head, int length) {
            if (length >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) {
                return GZIP;
            }
            if (length >= 4 && (head[0] & 0xff) == 0x28 && (head[1] & 0xff) == 0xb5
                    && (head[2] & 0xff) == 0x2f && (head[3] & 0xff) == 0xfd) {
                return ZSTD;
            }
            return NONE;
        }
    }

    public Compression {
        switch (algorithm) {
            case NONE -> level = 0;
            case GZIP -> {
                if (level < 0 || level > 9) {
                    throw new IllegalArgumentException("gzip level must be 0..9, got " + level);
                }
            }
            case ZSTD -> {
                if (level < 1 || level > 22) {
                    throw new IllegalArgumentException("zstd level must be 1..22, got " + level);
                }
            }
        }
    }

    public static Compression none() {
        return new Compression(Algorithm.NONE, 0);
    }

    /** gzip at level 6, the default of gzip(1), Docker and kaniko. */
    public static Compression gzip() {
        return gzip(6);
    }

    public static Compression gzip(int level) {
        return new Compression(Algorithm.GZIP, level);
    }

    /** zstd at level 3, zstd(1)'s default and BuildKit's. */
    public static Compression zstd() {
        return zstd(3);
    }

    public static Compression zstd(int level) {
        return new Compression(Algorithm.ZSTD, level);
    }

    public String mediaType() {
        return algorithm.mediaType();
    }
}
