package dev.kiln.builder.dockerfile;

/**
 * An OCI platform such as {@code linux/arm64/v8}.
 *
 * @param variant empty when the architecture has none
 */
public record Platform(String os, String architecture, String variant) {

    public Platform {
        if (os.isEmpty() || architecture.isEmpty()) {
            throw new IllegalArgumentException("platform needs an os and an architecture");
        }
    }

    /** Parses {@code os/arch[/variant]}. */
    public static Platform parse(String text) {
        String[] parts = text.split("/", -1);
        if (parts.length < 2 || parts.length > 3) {
            throw new IllegalArgumentException("invalid platform " + GoText.quote(text) + ", expected os/arch[/variant]");
        }
        return new Platform(parts[0], parts[1], parts.length == 3 ? parts[2] : "");
    }

    @Override
    public String toString() {
        return os + "/" + architecture + (variant.isEmpty() ? "" : "/" + variant);
    }
}
